package sim

import (
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

// pulsePin is a gpiotest.Pin whose edges are the S0 meter's pulses: it
// reports one rising edge for every pulse the board's energy curve has
// emitted and the pin has not yet reported.
type pulsePin struct {
	*gpiotest.Pin
	b *Board

	mu        sync.Mutex
	delivered int64
}

// pollStep is how often a waiting WaitForEdge looks at the clock again.
const pollStep = 10 * time.Millisecond

func newPulsePin(b *Board) *pulsePin {
	return &pulsePin{Pin: &gpiotest.Pin{N: PulsePin, Num: 27, Fn: "In/Low"}, b: b}
}

// In accepts any pull and edge: the pulses are generated, not fed.
func (p *pulsePin) In(pull gpio.Pull, _ gpio.Edge) error {
	p.Pin.Lock()
	defer p.Pin.Unlock()
	p.Pin.P = pull
	return nil
}

// WaitForEdge returns true at once if a pulse is due, otherwise polls the
// board clock until one is or timeout passes (-1 waits forever).
func (p *pulsePin) WaitForEdge(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if p.next() {
			return true
		}
		if timeout >= 0 && !time.Now().Before(deadline) {
			return false
		}
		step := pollStep
		if timeout >= 0 {
			step = min(step, time.Until(deadline))
		}
		time.Sleep(max(step, 0))
	}
}

// next delivers one due pulse, if any, and raises the level.
func (p *pulsePin) next() bool {
	due := p.b.pulsesAt(p.b.now())
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delivered >= due {
		return false
	}
	p.delivered++
	_ = p.Pin.Out(gpio.High)
	return true
}
