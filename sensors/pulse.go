package sensors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// PulseCounterOpts configures an S0 (DIN 43864) energy meter pulse output on
// a GPIO.
type PulseCounterOpts struct {
	// Node is the node id; "" means "pulse-" and the pin name.
	Node string
	// PulsesPerKWh is the meter constant printed on it, e.g. 1000 imp/kWh.
	// It must be positive.
	PulsesPerKWh float64
	// Pull is the pull resistor; the zero value means gpio.PullDown, which
	// suits S0+ wired to 3.3 V and S0- to the pin.
	Pull gpio.Pull
	// Edge is the edge that counts; the zero value means gpio.RisingEdge.
	Edge gpio.Edge
	// Initial is the count to start from (a persisted meter reading).
	Initial int64
	// Poll bounds each wait for an edge so Halt is noticed; 0 means 100 ms.
	Poll time.Duration
	// Now stamps pulses and fields; nil means time.Now.
	Now func() time.Time
}

// PulseCounter counts meter pulses on a GPIO in a goroutine it owns and
// reports the count, the energy (kWh) and the power (W) computed from the
// time between the last two pulses. Call Halt to stop counting.
type PulseCounter struct {
	pin  gpio.PinIn
	opts PulseCounterOpts
	now  func() time.Time
	stop chan struct{}
	done chan struct{}
	halt sync.Once

	mu         sync.Mutex
	count      int64
	last, prev time.Time // times of the last two pulses
}

// Field specs of the pulse counter.
var (
	pulseCount  = FieldSpec{Name: "Pulses", Kind: KindLong, Types: Momentary}
	pulseEnergy = FieldSpec{Name: "Energy", Kind: KindNumeric, Unit: "kWh", Decimals: 3, Types: Momentary | Computed}
	pulsePower  = FieldSpec{Name: "Power", Kind: KindNumeric, Unit: "W", Decimals: 0, Types: Momentary | Computed}
)

// NewPulseCounter configures pin for edge detection and starts counting.
func NewPulseCounter(pin gpio.PinIn, opts PulseCounterOpts) (*PulseCounter, error) {
	if pin == nil || pin == gpio.INVALID {
		return nil, errors.New("pulse counter: no such pin (check the pin name against --list-hardware)")
	}
	if !(opts.PulsesPerKWh > 0) || math.IsInf(opts.PulsesPerKWh, 0) {
		return nil, fmt.Errorf("pulse counter on %s: pulses per kWh must be positive, got %v", pin.Name(), opts.PulsesPerKWh)
	}
	if opts.Pull == gpio.PullNoChange {
		opts.Pull = gpio.PullDown
	}
	if opts.Edge == gpio.NoEdge {
		opts.Edge = gpio.RisingEdge
	}
	if opts.Poll <= 0 {
		opts.Poll = 100 * time.Millisecond
	}
	if opts.Node == "" {
		opts.Node = "pulse-" + pin.Name()
	}
	if err := pin.In(opts.Pull, opts.Edge); err != nil {
		return nil, wrapBusError("pulse counter", "gpio", pin.Name(), err)
	}
	p := &PulseCounter{
		pin: pin, opts: opts, now: nowOr(opts.Now), count: opts.Initial,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go p.run()
	return p, nil
}

func (p *PulseCounter) run() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		default:
		}
		if p.pin.WaitForEdge(p.opts.Poll) {
			t := p.now()
			p.mu.Lock()
			p.count++
			p.prev, p.last = p.last, t
			p.mu.Unlock()
		}
	}
}

// String names the pin.
func (p *PulseCounter) String() string { return "PulseCounter{" + p.pin.String() + "}" }

// Node returns the node id.
func (p *PulseCounter) Node() string { return p.opts.Node }

// Fields lists Pulses, Energy and Power.
func (p *PulseCounter) Fields() []FieldSpec {
	return []FieldSpec{pulseCount, pulseEnergy, pulsePower}
}

// Count returns the number of pulses so far, Initial included.
func (p *PulseCounter) Count() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.count
}

// Read reports the counter. Power is missing until two pulses were seen;
// when the time since the last pulse exceeds the last interval, the power
// is at most what that time implies and is flagged as an automatic
// estimate.
func (p *PulseCounter) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.mu.Lock()
	count, last, prev := p.count, p.last, p.prev
	p.mu.Unlock()
	now := p.now()

	energy := float64(count) / p.opts.PulsesPerKWh
	power, q := 0.0, QoSMissing
	if !prev.IsZero() {
		dt, q2 := last.Sub(prev), QoSAutomaticReadout
		if since := now.Sub(last); since > dt {
			dt, q2 = since, QoSAutomaticEstimate
		}
		if dt > 0 {
			// One pulse is 1/PulsesPerKWh kWh = 3.6e6/PulsesPerKWh J.
			power, q = 3.6e6/p.opts.PulsesPerKWh/dt.Seconds(), q2
		}
	}
	fields := []Field{
		pulseCount.Field(p.opts.Node, Long(count), now, QoSAutomaticReadout),
		pulseEnergy.Field(p.opts.Node, Numeric(energy), now, QoSAutomaticReadout),
		pulsePower.Field(p.opts.Node, Numeric(power), now, q),
	}
	return Filter(fields, types), nil
}

// Halt stops counting and waits for the counting goroutine to end (at most
// one Poll period). It is safe to call more than once.
func (p *PulseCounter) Halt() error {
	p.halt.Do(func() { close(p.stop) })
	<-p.done
	return nil
}
