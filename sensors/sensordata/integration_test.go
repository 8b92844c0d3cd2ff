package sensordata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
)

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("XIOT_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func clientConfig(t *testing.T, p *testserver.Prosody, user, resource string) xmpp.Config {
	t.Helper()
	if err := p.Register(user, user+"-pass"); err != nil {
		t.Fatal(err)
	}
	j, err := jid.Parse(user + "@" + p.Domain + "/" + resource)
	if err != nil {
		t.Fatal(err)
	}
	return xmpp.Config{JID: j, Password: user + "-pass", Server: p.C2SAddr, TLS: p.TLSConfig(), Logger: testLogger(t)}
}

func connect(t *testing.T, cfg xmpp.Config, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	s := xmpp.New(cfg, mux)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", cfg.JID, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// simHistory serves hourly samples of the sim board's BME280 temperature,
// computed from the board's model, for every historical period asked.
type simHistory struct{ b *sim.Board }

func (h simHistory) Query(_ context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	if len(nodes) > 0 && !contains(nodes, sim.NodeBME280) || len(fields) > 0 && !contains(fields, "Temperature") {
		return nil, nil
	}
	var out []sensors.Field
	end := h.b.Now().Truncate(time.Hour)
	for i := range 24 {
		ts := end.Add(-time.Duration(i) * time.Hour)
		out = append(out, sensors.Field{Node: sim.NodeBME280, Name: "Temperature", Value: sensors.Numeric(h.b.At(ts).Temperature),
			Unit: "°C", Decimals: 2, Timestamp: ts, Types: types & sensors.Historical, QoS: sensors.QoSAutomaticReadout})
	}
	return out, nil
}

type rig struct {
	p      *testserver.Prosody
	srv    *Server
	dev    *xmpp.Session
	cli    *xmpp.Session
	client *Client
	to     string
	board  *sim.Board
}

// newRig starts Prosody, a device serving the sim board plus a sensor of
// every value kind, a failing and a hanging sensor, and a client.
func newRig(t *testing.T, opts Options) *rig {
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	b := sim.New(nil)
	ss, err := b.Sensors()
	if err != nil {
		t.Fatal(err)
	}
	hang := make(chan struct{})
	t.Cleanup(func() {
		close(hang)
		for _, s := range ss {
			s.Halt()
		}
	})
	ss = append(ss,
		&fakeSensor{node: "kinds", fields: allKinds("kinds", t0)},
		&fakeSensor{node: "broken", fields: allKinds("broken", t0)[:1], err: errors.New("i2c bus 1 addr 0x77: no ACK (is the sensor wired?)")},
		&fakeSensor{node: "stuck", fields: allKinds("stuck", t0)[:1], hang: hang},
	)
	if opts.History == nil {
		opts.History = simHistory{b}
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = 500 * time.Millisecond
	}
	srv := NewServer(ss, opts)
	t.Cleanup(func() { srv.Close() })
	dmux := &xmpp.Mux{}
	srv.Register(dmux)
	dev := connect(t, clientConfig(t, p, "device", "agent"), dmux)
	cmux := &xmpp.Mux{}
	client := NewClient(cmux)
	cli := connect(t, clientConfig(t, p, "reader", "cli"), cmux)
	return &rig{p: p, srv: srv, dev: dev, cli: cli, client: client, to: dev.LocalJID().String(), board: b}
}

func (r *rig) read(t *testing.T, req Request) (Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.client.Read(ctx, r.cli, r.to, req)
}

func TestProsodyReadouts(t *testing.T) {
	r := newRig(t, Options{})
	ok := []NodeRef{{NodeID: sim.NodeBME280}, {NodeID: sim.NodeDS18B20}, {NodeID: sim.NodeMeter}, {NodeID: sim.NodeThermostat}, {NodeID: "kinds"}}

	t.Run("every field type", func(t *testing.T) {
		res, err := r.read(t, Request{Types: sensors.AllTypes &^ sensors.Historical, Nodes: []NodeRef{{NodeID: "kinds"}}})
		if err != nil || res.Err() != nil {
			t.Fatal(err, res.Err())
		}
		sameFields(t, res.Fields, allKinds("kinds", t0))
	})

	t.Run("every readout type", func(t *testing.T) {
		for _, typ := range []sensors.ReadoutType{sensors.Momentary, sensors.Peak, sensors.Status, sensors.Computed, sensors.Identity,
			sensors.HistoricalSecond, sensors.HistoricalMinute, sensors.HistoricalHour, sensors.HistoricalDay, sensors.HistoricalWeek,
			sensors.HistoricalMonth, sensors.HistoricalQuarter, sensors.HistoricalYear, sensors.HistoricalOther} {
			res, err := r.read(t, Request{Types: typ, Nodes: ok})
			if err != nil || res.Err() != nil {
				t.Fatalf("%s: %v %v", typ, err, res.Err())
			}
			if len(res.Fields) == 0 {
				t.Errorf("%s: no fields", typ)
			}
			for _, f := range res.Fields {
				if !f.Types.Intersects(typ) {
					t.Errorf("%s: got %v", typ, f)
				}
			}
			if typ&sensors.Historical != 0 && len(res.Fields) != 24 {
				t.Errorf("%s: %d historical values, want 24", typ, len(res.Fields))
			}
		}
	})

	t.Run("sim values", func(t *testing.T) {
		res, err := r.read(t, Request{Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: sim.NodeBME280}, {NodeID: sim.NodeMeter}}})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]sensors.Field{}
		for _, f := range res.Fields {
			got[f.Node+"/"+f.Name] = f
		}
		temp := got["bme280/Temperature"]
		want := r.board.At(temp.Timestamp).Temperature
		if v, _ := temp.Value.Float(); temp.Unit != "°C" || v < want-0.1 || v > want+0.1 {
			t.Errorf("temperature %v, board says %.2f", temp, want)
		}
		if _, ok := got["meter/Energy"]; !ok || got["meter/Energy"].Unit != "kWh" {
			t.Errorf("fields %v", res.Fields)
		}
	})

	t.Run("node and field filter", func(t *testing.T) {
		res, err := r.read(t, Request{Types: sensors.AllTypes &^ sensors.Historical, Nodes: []NodeRef{{NodeID: sim.NodeThermostat}, {NodeID: sim.NodeDS18B20}},
			Fields: []string{"Setpoint", "Temperature"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(res.Fields); got != "thermostat/Setpoint,ds18b20/Temperature" {
			t.Errorf("got %s", got)
		}
	})

	t.Run("historical range", func(t *testing.T) {
		now := r.board.Now().Truncate(time.Hour)
		res, err := r.read(t, Request{Types: sensors.HistoricalHour, Nodes: []NodeRef{{NodeID: sim.NodeBME280}}, From: now.Add(-5 * time.Hour), To: now})
		if err != nil || len(res.Fields) != 6 {
			t.Fatalf("%v: %d fields, want 6", err, len(res.Fields))
		}
	})

	t.Run("failure", func(t *testing.T) {
		start := time.Now()
		res, err := r.read(t, Request{Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: sim.NodeDS18B20}, {NodeID: "broken"}, {NodeID: "stuck"}}})
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
		if names(res.Fields) != "ds18b20/Temperature" || len(res.Errors) != 2 ||
			res.Errors[0].Node.NodeID != "broken" || !strings.Contains(res.Errors[0].Text, "no ACK") ||
			res.Errors[1].Node.NodeID != "stuck" || !strings.Contains(res.Errors[1].Text, "did not answer in time") {
			t.Errorf("fields %s, errors %v", names(res.Fields), res.Errors)
		}
	})

	t.Run("unknown node", func(t *testing.T) {
		_, err := r.read(t, Request{Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "nope"}}})
		var se *xmpp.StanzaError
		if !errors.As(err, &se) || se.Condition != "item-not-found" || !strings.Contains(se.Text, "nope") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("when queues", func(t *testing.T) {
		when := time.Now().Add(400 * time.Millisecond)
		res, err := r.read(t, Request{Types: sensors.Status, Nodes: []NodeRef{{NodeID: sim.NodeThermostat}}, When: when})
		if err != nil || !res.Queued || !res.Started || len(res.Fields) != 2 {
			t.Fatalf("%v: %+v", err, res)
		}
		for _, f := range res.Fields {
			if f.Timestamp.Before(when.Add(-time.Millisecond)) {
				t.Errorf("read at %v, before %v", f.Timestamp, when)
			}
		}
	})

	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ro, err := r.client.Request(ctx, r.cli, r.to, Request{Types: sensors.Momentary, When: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ro.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ro.Wait(ctx); !errors.Is(err, ErrCancelled) {
			t.Errorf("Wait after cancel: %v", err)
		}
		waitFor(t, func() bool { return r.srv.Pending() == 0 })
	})

	t.Run("large readout split", func(t *testing.T) {
		res, err := r.read(t, Request{Types: sensors.HistoricalOther, From: time.Time{}})
		if err != nil || len(res.Fields) != 24 {
			t.Fatalf("%v %d", err, len(res.Fields))
		}
	})
}

// TestProsodyBurst sends 10,000 requests through Prosody from one
// client: the device accepts a few, refuses the rest with a clear wait
// error, and keeps working.
func TestProsodyBurst(t *testing.T) {
	r := newRig(t, Options{MaxPerRequester: 4, MaxFields: 2, ReadTimeout: 10 * time.Second})
	n := 10000
	if raceEnabled {
		n = 2000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	type out struct {
		ro  *Readout
		err error
	}
	ch := make(chan out, n)
	for range n {
		go func() {
			ro, err := r.client.Request(ctx, r.cli, r.to, Request{Types: sensors.Status, Nodes: []NodeRef{{NodeID: "kinds"}}})
			ch <- out{ro, err}
		}()
	}
	accepted, refused := 0, 0
	for range n {
		o := <-ch
		var se *xmpp.StanzaError
		switch {
		case o.err == nil:
			accepted++
			if res, err := o.ro.Wait(ctx); err != nil || len(res.Fields) != 5 || res.Err() != nil {
				t.Fatalf("accepted readout: %v, %d fields, node errors %v", err, len(res.Fields), res.Err())
			}
		case errors.As(o.err, &se) && se.Condition == "resource-constraint" && se.Type == "wait":
			refused++
		default:
			t.Fatalf("request: %v", o.err)
		}
	}
	t.Logf("accepted %d, refused %d", accepted, refused)
	if accepted < 4 || refused == 0 {
		t.Errorf("accepted %d, refused %d", accepted, refused)
	}
	if res, err := r.read(t, Request{Types: sensors.Status, Nodes: []NodeRef{{NodeID: "kinds"}}}); err != nil || len(res.Fields) != 5 {
		t.Errorf("after the burst: %v, %s", err, fmt.Sprint(len(res.Fields)))
	}
}

// storeHistory answers History from a history.Store.
type storeHistory struct{ s *history.Store }

func (h storeHistory) Query(ctx context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	return h.s.Historical(ctx, types, nodes, fields, from, to)
}

// TestProsodyDayOfHistory serves a day of 1 Hz samples (86,400; four
// hours under the race detector) from the history store through Prosody
// and counts them exactly, split into messages of MaxFields.
func TestProsodyDayOfHistory(t *testing.T) {
	st, err := history.Open(filepath.Join(t.TempDir(), "history.db"), history.Options{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	n := 86400
	if raceEnabled {
		n = 4 * 3600
	}
	batch := make([]sensors.Field, 0, 3600)
	for i := range n {
		batch = append(batch, sensors.Field{Node: sim.NodeBME280, Name: "Temperature", Value: sensors.Numeric(20 + float64(i%600)/100),
			Unit: "°C", Decimals: 2, Timestamp: day.Add(time.Duration(i) * time.Second), Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout})
		if len(batch) == cap(batch) {
			if err := st.Append(batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	r := newRig(t, Options{History: storeHistory{st}, ReadTimeout: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tt := range []struct {
		from, to time.Time
		want     int
	}{
		{day, day.Add(time.Duration(n-1) * time.Second), n},
		{day.Add(time.Hour), day.Add(2*time.Hour - time.Second), 3600},
	} {
		t0 := time.Now()
		res, err := r.client.Read(ctx, r.cli, r.to, Request{Types: sensors.HistoricalOther, Nodes: []NodeRef{{NodeID: sim.NodeBME280}},
			Fields: []string{"Temperature"}, From: tt.from, To: tt.to})
		if err != nil || res.Err() != nil {
			t.Fatalf("%v %v", err, res.Err())
		}
		t.Logf("%d samples in %v", len(res.Fields), time.Since(t0))
		if len(res.Fields) != tt.want {
			t.Errorf("%s..%s: %d samples, want %d", tt.from, tt.to, len(res.Fields), tt.want)
		}
		if f := res.Fields[len(res.Fields)-1]; !f.Timestamp.Equal(tt.to) || f.Types != sensors.HistoricalOther {
			t.Errorf("last sample %v at %v, want %v", f, f.Timestamp, tt.to)
		}
	}
}
