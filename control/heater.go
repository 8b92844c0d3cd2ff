package control

import (
	"math"
	"sync"
	"time"
)

// Heater is a first-order thermal model of a relay-driven heater, for the
// simulated board: while the relay is on the room warms towards Gain °C
// above its free-running temperature with time constant Tau, and cools
// back the same way when it is off. Its Hook method has the shape of
// boards/sim's HeatHook.
type Heater struct {
	Gain float64       // °C added in steady state with the relay on
	Tau  time.Duration // time constant

	mu   sync.Mutex
	last time.Time
	heat float64
}

// Hook returns the °C the heater adds at now, taking the relay to have been
// in state relayOn since the previous call (the board samples often). The
// first call only starts the clock; calls with an earlier now than a
// previous call return the current heat unchanged.
func (h *Heater) Hook(now time.Time, relayOn bool) float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last.IsZero() {
		h.last = now
		return h.heat
	}
	if dt := now.Sub(h.last); dt > 0 {
		target := 0.0
		if relayOn {
			target = h.Gain
		}
		k := 1.0
		if h.Tau > 0 {
			k = 1 - math.Exp(-float64(dt)/float64(h.Tau))
		}
		h.heat += (target - h.heat) * k
		h.last = now
	}
	return h.heat
}
