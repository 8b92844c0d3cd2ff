package pep

import (
	"context"
	"encoding/xml"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

func temp(node string, v float64) sensors.Field {
	return sensors.Field{Node: node, Name: "Temperature", Value: sensors.Numeric(v), Unit: "°C", Decimals: 2, Timestamp: t0, Types: sensors.Momentary}
}

// recIQ records published IQs and answers them with success.
type recIQ struct {
	mu  sync.Mutex
	iqs []*xmpp.Element
}

func (r *recIQ) SendIQ(_ context.Context, iq *xmpp.Element) (*xmpp.Element, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.iqs = append(r.iqs, iq)
	return xmpp.NewElement("", "iq", "type", "result"), nil
}

func TestRules(t *testing.T) {
	now := t0
	opts := Options{
		Default: Rule{Threshold: 0.5, MinInterval: 10 * time.Second, MaxInterval: time.Hour},
		Rules:   map[string]Rule{"b/Temperature": {Threshold: 0}, "State": {}},
		Now:     func() time.Time { return now },
	}
	r := &recIQ{}
	p := NewPublisher(r, opts)
	state := func(s string) sensors.Field {
		return sensors.Field{Node: "a", Name: "State", Value: sensors.Enum(s, "urn:x"), Timestamp: t0, Types: sensors.Status}
	}
	steps := []struct {
		after time.Duration
		in    []sensors.Field
		want  string // published names with values
	}{
		{0, []sensors.Field{temp("a", 20), temp("b", 20), state("on")}, "a=20.00 b=20.00 a=on"},
		{time.Minute, []sensors.Field{temp("a", 20.4), temp("b", 20.01), state("on")}, "b=20.01"},
		{time.Minute, []sensors.Field{temp("a", 20.5), temp("b", 20.01), state("off")}, "a=20.50 a=off"},
		{time.Second, []sensors.Field{temp("a", 30), temp("b", 20.01), state("on")}, "a=on"},         // a within min interval
		{10 * time.Second, []sensors.Field{temp("a", 30), temp("b", 20.01), state("on")}, "a=30.00"}, // now it may
		{time.Hour, []sensors.Field{temp("a", 30), temp("b", 20.01), state("on")}, "a=30.00"},        // heartbeat
	}
	for i, s := range steps {
		now = now.Add(s.after)
		got, err := p.Update(context.Background(), s.in)
		if err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, f := range got {
			parts = append(parts, f.Node+"="+f.Text())
		}
		if g := strings.Join(parts, " "); g != s.want {
			t.Errorf("step %d: published %q, want %q", i, g, s.want)
		}
	}
	if len(r.iqs) != len(steps) {
		t.Fatalf("%d publish IQs", len(r.iqs))
	}
	x := r.iqs[0].String()
	for _, w := range []string{`<publish node="urn:xmpp:iot:sensordata">`, `<fields xmlns="urn:xmpp:iot:sensordata" seqnr="0" done="true">`,
		`<value>presence</value>`, `var="pubsub#access_model"`} {
		if !strings.Contains(x, w) {
			t.Errorf("publish IQ lacks %s:\n%s", w, x)
		}
	}
}

func TestParseEventIgnoresOtherNodes(t *testing.T) {
	msg := `<message xmlns='jabber:client' from='d@x'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:avatar:metadata'><item id='1'/></items></event></message>`
	d := xml.NewDecoder(strings.NewReader(msg))
	tok, _ := d.Token()
	el, err := xmpp.ReadElement(d, tok.(xml.StartElement), xmpp.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseEvent(el); err != ErrNotReadings {
		t.Errorf("got %v", err)
	}
}

func connect(t *testing.T, p *testserver.Prosody, user string, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	if err := p.Register(user, user+"-pass"); err != nil {
		t.Fatal(err)
	}
	j, _ := jid.Parse(user + "@" + p.Domain + "/r")
	s := xmpp.New(xmpp.Config{JID: j, Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig()}, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestPushThroughProsody publishes through Prosody's mod_pep: a subscriber
// receives a change above the threshold and never one below it.
func TestPushThroughProsody(t *testing.T) {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	dev := connect(t, p, "device", nil)
	got := make(chan []sensors.Field, 16)
	smux := &xmpp.Mux{}
	Listen(smux, func(from jid.JID, fields []sensors.Field) {
		if from.Bare().String() == "device@localhost" {
			got <- fields
		}
	})
	sub := connect(t, p, "watcher", smux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Notifications go to the subscriber's bare JID: only available
	// resources get them.
	if err := sub.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}

	pub := NewPublisher(dev, Options{AccessModel: "open", Default: Rule{Threshold: 0.1}})
	if f, err := pub.Update(ctx, []sensors.Field{temp("bme280", 20)}); err != nil || len(f) != 1 {
		t.Fatalf("first publish: %v %v", f, err)
	}
	if err := Subscribe(ctx, sub, dev.LocalJID()); err != nil {
		t.Fatal(err)
	}
	if f, err := pub.Update(ctx, []sensors.Field{temp("bme280", 20.05)}); err != nil || len(f) != 0 {
		t.Fatalf("below threshold published %v %v", f, err)
	}
	if f, err := pub.Update(ctx, []sensors.Field{temp("bme280", 20.25)}); err != nil || len(f) != 1 {
		t.Fatalf("above threshold: %v %v", f, err)
	}
	// Notifications arrive in order: possibly the last item sent on
	// subscription (20.00), then 20.25; never 20.05.
	for {
		select {
		case fs := <-got:
			if len(fs) != 1 || fs[0].Name != "Temperature" || fs[0].Unit != "°C" {
				t.Fatalf("notification %v", fs)
			}
			switch v := fs[0].Text(); v {
			case "20.00":
				continue
			case "20.25":
				return
			default:
				t.Fatalf("subscriber got %s", v)
			}
		case <-ctx.Done():
			t.Fatalf("no notification of the change above threshold\n%s", p.LogTail())
		}
	}
}

// stepSensor returns the next of its values at each Read.
type stepSensor struct {
	mu     sync.Mutex
	values []float64
}

func (s *stepSensor) String() string              { return "step" }
func (s *stepSensor) Node() string                { return "step" }
func (s *stepSensor) Halt() error                 { return nil }
func (s *stepSensor) Fields() []sensors.FieldSpec { return nil }
func (s *stepSensor) Read(context.Context, sensors.ReadoutType) ([]sensors.Field, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.values[0]
	if len(s.values) > 1 {
		s.values = s.values[1:]
	}
	return []sensors.Field{temp("step", v)}, nil
}

// TestPoll polls a sensor and publishes only the readings that moved by
// the threshold.
func TestPoll(t *testing.T) {
	r := &recIQ{}
	p := NewPublisher(r, Options{Default: Rule{Threshold: 1}})
	s := &stepSensor{values: []float64{20, 20.5, 20.9, 21.2, 21.3}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		p.Poll(ctx, []sensors.Sensor{s}, time.Millisecond, func(err error) { t.Error(err) })
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		n := len(s.values)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sensor not polled")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []string
	for _, iq := range r.iqs {
		s := iq.String()
		s = s[strings.Index(s, "<numeric"):]
		i := strings.Index(s, `value="`)
		got = append(got, s[i+7:i+12])
	}
	if strings.Join(got, " ") != "20.00 21.20" {
		t.Errorf("published %v, want 20.00 and 21.20", got)
	}
}
