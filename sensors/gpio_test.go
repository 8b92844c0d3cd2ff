package sensors

import (
	"context"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
)

func TestDigitalInput(t *testing.T) {
	tests := []struct {
		name   string
		opts   DigitalInputOpts
		level  gpio.Level
		want   bool
		field  string
		node   string
		pullIn gpio.Pull
	}{
		{"high", DigitalInputOpts{}, gpio.High, true, "State", "gpio-GPIO17", gpio.PullNoChange},
		{"low", DigitalInputOpts{}, gpio.Low, false, "State", "gpio-GPIO17", gpio.PullNoChange},
		{"inverted low", DigitalInputOpts{Invert: true, Field: "Door", Node: "door"}, gpio.Low, true, "Door", "door", gpio.PullNoChange},
		{"pull-up", DigitalInputOpts{Pull: gpio.PullUp}, gpio.High, true, "State", "gpio-GPIO17", gpio.PullUp},
	}
	for _, tt := range tests {
		pin := &gpiotest.Pin{N: "GPIO17", Num: 17}
		tt.opts.Now = fixedNow
		d, err := NewDigitalInput(pin, tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		if pin.P != tt.pullIn {
			t.Errorf("%s: pull %s, want %s", tt.name, pin.P, tt.pullIn)
		}
		pin.L = tt.level
		fields, err := d.Read(context.Background(), Momentary)
		if err != nil || len(fields) != 1 {
			t.Fatalf("%s: Read = %v, %v", tt.name, fields, err)
		}
		f := fields[0]
		if b, ok := f.Value.Bool(); !ok || b != tt.want || f.Name != tt.field || f.Node != tt.node || f.Text() != map[bool]string{true: "true", false: "false"}[tt.want] {
			t.Errorf("%s: got %v", tt.name, f)
		}
		if err := f.Validate(); err != nil {
			t.Error(err)
		}
	}
	if _, err := NewDigitalInput(gpio.INVALID, DigitalInputOpts{}); err == nil {
		t.Error("INVALID pin accepted")
	}
}

// clock is a settable clock for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// waitCount waits until the counter saw n pulses.
func waitCount(t *testing.T, p *PulseCounter, n int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for p.Count() != n {
		if time.Now().After(deadline) {
			t.Fatalf("count = %d, want %d", p.Count(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPulseCounter(t *testing.T) {
	clk := &clock{t: testTime}
	pin := &gpiotest.Pin{N: "GPIO27", Num: 27, EdgesChan: make(chan gpio.Level)}
	p, err := NewPulseCounter(pin, PulseCounterOpts{PulsesPerKWh: 1000, Initial: 5000, Now: clk.now, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Halt()
	if pin.P != gpio.PullDown {
		t.Errorf("pull = %s, want PullDown", pin.P)
	}
	read := func() map[string]Field {
		fields, err := p.Read(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]Field{}
		for _, f := range fields {
			m[f.Name] = f
		}
		return m
	}
	// One pulse: energy counts, power is still unknown.
	pin.EdgesChan <- gpio.High
	waitCount(t, p, 5001)
	m := read()
	if m["Pulses"].Text() != "5001" || m["Energy"].Text() != "5.001" || !m["Power"].QoS.Has(QoSMissing) {
		t.Errorf("after 1 pulse: %v", m)
	}
	// A second pulse 3.6 s later: 1 Wh in 3.6 s is 1000 W.
	clk.t = clk.t.Add(3600 * time.Millisecond)
	pin.EdgesChan <- gpio.High
	waitCount(t, p, 5002)
	m = read()
	if m["Energy"].Text() != "5.002" || m["Power"].Text() != "1000" || m["Power"].QoS != QoSAutomaticReadout {
		t.Errorf("after 2 pulses: %v", m)
	}
	// 7.2 s without a pulse: the power is at most 500 W, an estimate.
	clk.t = clk.t.Add(7200 * time.Millisecond)
	m = read()
	if m["Power"].Text() != "500" || m["Power"].QoS != QoSAutomaticEstimate {
		t.Errorf("after a silence: %v", m)
	}
	if got := len(Filter(p.readAll(t), Computed)); got != 2 {
		t.Errorf("%d computed fields, want Energy and Power", got)
	}
	if err := p.Halt(); err != nil {
		t.Fatal(err)
	}
}

func (p *PulseCounter) readAll(t *testing.T) []Field {
	f, err := p.Read(context.Background(), AllTypes)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPulseCounterOpts(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO27", EdgesChan: make(chan gpio.Level)}
	for _, ppk := range []float64{0, -1} {
		if _, err := NewPulseCounter(pin, PulseCounterOpts{PulsesPerKWh: ppk}); err == nil {
			t.Errorf("PulsesPerKWh %v accepted", ppk)
		}
	}
	// gpiotest refuses edge detection without an edge channel, like a pin
	// without interrupt support.
	if _, err := NewPulseCounter(&gpiotest.Pin{N: "GPIO5"}, PulseCounterOpts{PulsesPerKWh: 1000}); err == nil {
		t.Error("pin without edge support accepted")
	}
}
