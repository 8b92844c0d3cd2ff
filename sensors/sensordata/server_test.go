package sensordata

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// fakeSensor is a sensors.Sensor serving fixed fields; it can fail, hang
// (ignoring its context) or wait for a gate.
type fakeSensor struct {
	node   string
	fields []sensors.Field
	err    error
	hang   chan struct{} // non-nil: Read blocks until closed, ignoring ctx
	gate   chan struct{} // non-nil: Read waits for it or ctx
}

func (f *fakeSensor) String() string { return "fake{" + f.node + "}" }
func (f *fakeSensor) Node() string   { return f.node }
func (f *fakeSensor) Halt() error    { return nil }
func (f *fakeSensor) Fields() []sensors.FieldSpec {
	var out []sensors.FieldSpec
	for _, fl := range f.fields {
		out = append(out, sensors.FieldSpec{Name: fl.Name, Kind: fl.Value.Kind(), Unit: fl.Unit, Types: fl.Types})
	}
	return out
}
func (f *fakeSensor) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	if f.hang != nil {
		<-f.hang
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return sensors.Filter(append([]sensors.Field(nil), f.fields...), types), nil
}

// recorder is a sender that keeps what it is given.
type recorder struct {
	ch chan *xmpp.Element
}

func newRecorder() *recorder { return &recorder{ch: make(chan *xmpp.Element, 20000)} }

func (r *recorder) Send(_ context.Context, v any) error {
	r.ch <- v.(*xmpp.Element)
	return nil
}

func (r *recorder) SendAll(ctx context.Context, vs ...any) error {
	for _, v := range vs {
		r.Send(ctx, v)
	}
	return nil
}

// next returns the next stanza sent, failing after a deadline.
func (r *recorder) next(t *testing.T) *xmpp.Element {
	t.Helper()
	select {
	case e := <-r.ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("nothing sent within 5 s")
		return nil
	}
}

// none checks that nothing more is sent for a while.
func (r *recorder) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-r.ch:
		t.Fatalf("unexpected stanza %s", e)
	case <-time.After(d):
	}
}

const client = "client@example.org/amr"

func reqIQ(id string, r Request) *xmpp.Element {
	return xmpp.NewElement("jabber:client", "iq", "type", "get", "id", id, "from", client, "to", "device@example.org/agent").Add(r.Element())
}

// collect reads the answer to a request: the IQ reply (accepted or an
// error) and the messages up to the one marked done, in whatever order
// the device sent them.
func collect(t *testing.T, r *recorder) (reply *xmpp.Element, msgs []any) {
	t.Helper()
	done := false
	for reply == nil || !done {
		m := r.next(t)
		if m.Name.Local == "iq" {
			reply = m
			if reply.Get("type") == "error" {
				return reply, nil
			}
			continue
		}
		v, err := Parse(m.FirstChild())
		if err != nil {
			t.Fatalf("device sent %s: %v", m, err)
		}
		msgs = append(msgs, v)
		switch v := v.(type) {
		case Fields:
			done = v.Done
		case Failure:
			done = v.Done
		case Done:
			done = true
		}
	}
	return reply, msgs
}

func allFields(msgs []any) []sensors.Field {
	var out []sensors.Field
	for _, m := range msgs {
		if f, ok := m.(Fields); ok {
			out = append(out, f.Fields...)
		}
	}
	return out
}

func names(fs []sensors.Field) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Node+"/"+f.Name)
	}
	return strings.Join(s, ",")
}

func newTestServer(t *testing.T, opts Options, ss ...sensors.Sensor) *Server {
	s := NewServer(ss, opts)
	t.Cleanup(func() { s.Close() })
	return s
}

func TestServerReadouts(t *testing.T) {
	dev := &fakeSensor{node: "dev", fields: allKinds("dev", t0)}
	meter := &fakeSensor{node: "meter", fields: []sensors.Field{
		{Node: "meter", Name: "Energy", Value: sensors.Numeric(12345.67), Unit: "MWh", Decimals: 2, Timestamp: t0, Types: sensors.Momentary},
		{Node: "meter", Name: "Power", Value: sensors.Numeric(239.4), Unit: "W", Decimals: 1, Timestamp: t0, Types: sensors.Momentary},
		{Node: "meter", Name: "Runtime", Value: sensors.Numeric(12345), Unit: "h", Timestamp: t0, Types: sensors.Status},
	}}
	tests := []struct {
		name string
		req  Request
		want string
	}{
		{"momentary", Request{SeqNr: 1, Types: sensors.Momentary},
			"dev/Temperature,dev/Count,dev/Total,meter/Energy,meter/Power"},
		{"no types means all", Request{SeqNr: 2, Nodes: []NodeRef{{NodeID: "meter"}}},
			"meter/Energy,meter/Power,meter/Runtime"},
		{"identity", Request{SeqNr: 3, Types: sensors.Identity}, "dev/Installed,dev/Serial"},
		{"computed and peak", Request{SeqNr: 4, Types: sensors.Computed | sensors.Peak}, "dev/Ratio"},
		{"historical from sensors", Request{SeqNr: 5, Types: sensors.HistoricalDay}, "dev/Total"},
		{"node filter", Request{SeqNr: 6, Types: sensors.Status, Nodes: []NodeRef{{NodeID: "meter"}}}, "meter/Runtime"},
		{"field filter", Request{SeqNr: 7, Types: sensors.AllTypes, Nodes: []NodeRef{{NodeID: "meter"}}, Fields: []string{"Power", "Nope"}}, "meter/Power"},
		{"nothing matches", Request{SeqNr: 8, Types: sensors.Peak, Nodes: []NodeRef{{NodeID: "meter"}}}, ""},
	}
	rec := newRecorder()
	srv := newTestServer(t, Options{}, dev, meter)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv.handleReq(rec, reqIQ("r"+tt.name, tt.req))
			reply, msgs := collect(t, rec)
			acc, err := Parse(reply.FirstChild())
			if err != nil || acc != (Accepted{SeqNr: tt.req.SeqNr}) || reply.Get("type") != "result" {
				t.Fatalf("reply %s", reply)
			}
			if got := names(allFields(msgs)); got != tt.want {
				t.Errorf("fields %s, want %s", got, tt.want)
			}
		})
	}
	// Every value kind and flag survives the trip.
	srv.handleReq(rec, reqIQ("x", Request{SeqNr: 9, Nodes: []NodeRef{{NodeID: "dev"}}}))
	_, msgs := collect(t, rec)
	sameFields(t, allFields(msgs), allKinds("dev", t0))
}

func TestServerSplitsLargeReadouts(t *testing.T) {
	var fs []sensors.Field
	for i := range 250 {
		fs = append(fs, sensors.Field{Node: "big", Name: fmt.Sprint("F", i), Value: sensors.Int(int32(i)), Timestamp: t0, Types: sensors.Momentary})
	}
	rec := newRecorder()
	srv := newTestServer(t, Options{MaxFields: 100}, &fakeSensor{node: "big", fields: fs})
	srv.handleReq(rec, reqIQ("a", Request{SeqNr: 1, Types: sensors.Momentary}))
	_, msgs := collect(t, rec)
	if len(msgs) != 3 {
		t.Fatalf("%d messages, want 3", len(msgs))
	}
	for i, m := range msgs {
		f := m.(Fields)
		if want := []int{100, 100, 50}[i]; len(f.Fields) != want || f.Done != (i == 2) {
			t.Errorf("message %d: %d fields done=%v", i, len(f.Fields), f.Done)
		}
	}
	if got := allFields(msgs); len(got) != 250 || got[249].Name != "F249" {
		t.Errorf("got %d fields", len(got))
	}
}

func TestServerFailures(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	good := &fakeSensor{node: "good", fields: allKinds("good", t0)[:1]}
	bad := &fakeSensor{node: "bad", fields: allKinds("bad", t0)[:1], err: errors.New("i2c bus 1 addr 0x76: no ACK")}
	stuck := &fakeSensor{node: "stuck", fields: allKinds("stuck", t0)[:1], hang: hang}
	rec := newRecorder()
	srv := newTestServer(t, Options{ReadTimeout: 200 * time.Millisecond}, good, bad, stuck)
	for seq := range int32(2) { // the second read finds the stuck sensor still busy
		start := time.Now()
		srv.handleReq(rec, reqIQ(fmt.Sprint("f", seq), Request{SeqNr: seq, Types: sensors.Momentary}))
		_, msgs := collect(t, rec)
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("readout took %v with a 200 ms timeout", el)
		}
		if len(msgs) != 2 {
			t.Fatalf("messages %+v, want fields then failure", msgs)
		}
		if f := msgs[0].(Fields); f.Done || names(f.Fields) != "good/Temperature" {
			t.Errorf("fields %+v", f)
		}
		fl := msgs[1].(Failure)
		if !fl.Done || len(fl.Errors) != 2 || fl.Errors[0].Node.NodeID != "bad" || fl.Errors[1].Node.NodeID != "stuck" {
			t.Fatalf("failure %+v", fl)
		}
		if !strings.Contains(fl.Errors[0].Text, "no ACK") || !strings.Contains(fl.Errors[1].Text, "did not answer in time") {
			t.Errorf("error texts %q", fl.Errors)
		}
	}
}

func TestServerRefusals(t *testing.T) {
	s := &fakeSensor{node: "dev", fields: allKinds("dev", t0)}
	srv := newTestServer(t, Options{}, s)
	tests := []struct {
		name      string
		iq        *xmpp.Element
		typ, cond string
	}{
		{"unknown node", reqIQ("1", Request{SeqNr: 1, Nodes: []NodeRef{{NodeID: "nope"}}}), "cancel", "item-not-found"},
		{"unknown field", reqIQ("2", Request{SeqNr: 2, Fields: []string{"Nope"}}), "cancel", "item-not-found"},
		{"too far ahead", reqIQ("3", Request{SeqNr: 3, When: time.Now().Add(48 * time.Hour)}), "modify", "bad-request"},
		{"malformed", xmpp.NewElement("jabber:client", "iq", "type", "get", "id", "4", "from", client).Add(
			xmpp.NewElement(NS, "req", "seqnr", "4", "momentary", "maybe")), "modify", "bad-request"},
		{"cancel unknown", xmpp.NewElement("jabber:client", "iq", "type", "get", "id", "5", "from", client).Add(Cancel{SeqNr: 77}.Element()), "cancel", "item-not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := newRecorder()
			if tt.iq.Child(NS, "cancel") != nil {
				srv.handleCancel(rec, tt.iq)
			} else {
				srv.handleReq(rec, tt.iq)
			}
			r := rec.next(t)
			se := xmpp.ParseStanzaError(r)
			if r.Get("type") != "error" || se.Type != tt.typ || se.Condition != tt.cond || se.Text == "" {
				t.Fatalf("reply %s", r)
			}
			rej := r.Child(NS, "rejected")
			if rej == nil || rej.Child(NS, "error").Text() != se.Text {
				t.Errorf("no legacy rejected with the same text: %s", r)
			}
			rec.none(t, 50*time.Millisecond)
		})
	}
}

func TestServerWhenAndCancel(t *testing.T) {
	s := &fakeSensor{node: "dev", fields: allKinds("dev", t0)[:2]}
	srv := newTestServer(t, Options{}, s)
	rec := newRecorder()

	when := time.Now().Add(300 * time.Millisecond)
	srv.handleReq(rec, reqIQ("q", Request{SeqNr: 1, Types: sensors.Momentary, When: when}))
	reply, msgs := collect(t, rec)
	if acc, _ := Parse(reply.FirstChild()); acc != (Accepted{SeqNr: 1, Queued: true}) {
		t.Fatalf("reply %s", reply)
	}
	if _, ok := msgs[0].(Started); !ok || len(msgs) != 2 {
		t.Fatalf("messages %+v, want started then fields", msgs)
	}
	if time.Now().Before(when) {
		t.Errorf("readout before its time")
	}

	srv.handleReq(rec, reqIQ("q2", Request{SeqNr: 2, Types: sensors.Momentary, When: time.Now().Add(time.Hour)}))
	if acc, _ := Parse(rec.next(t).FirstChild()); acc != (Accepted{SeqNr: 2, Queued: true}) {
		t.Fatalf("accepted %+v", acc)
	}
	// The first readout releases its slot just after its last message.
	for deadline := time.Now().Add(5 * time.Second); srv.Pending() != 1; {
		if time.Now().After(deadline) {
			t.Fatalf("pending %d", srv.Pending())
		}
		time.Sleep(time.Millisecond)
	}
	srv.handleCancel(rec, xmpp.NewElement("jabber:client", "iq", "type", "get", "id", "c", "from", client).Add(Cancel{SeqNr: 2}.Element()))
	r := rec.next(t)
	if c, _ := Parse(r.FirstChild()); c != (Cancelled{SeqNr: 2}) || r.Get("type") != "result" {
		t.Fatalf("cancel reply %s", r)
	}
	rec.none(t, 100*time.Millisecond)
	waitFor(t, func() bool { return srv.Pending() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestServerBurst sends 10,000 requests at once from one JID while the
// sensor is slow: a bounded number are accepted, the rest refused with a
// clear wait error, and goroutines and memory go back to where they were.
func TestServerBurst(t *testing.T) {
	gate := make(chan struct{})
	s := &fakeSensor{node: "dev", fields: allKinds("dev", t0)[:1], gate: gate}
	srv := newTestServer(t, Options{MaxPerRequester: 8, ReadTimeout: time.Minute}, s)
	rec := newRecorder()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	accepted, refused := 0, 0
	for i := range 10000 {
		srv.handleReq(rec, reqIQ(fmt.Sprint("b", i), Request{SeqNr: int32(i), Types: sensors.Momentary}))
	}
	if g := runtime.NumGoroutine(); g > g0+8*3 {
		t.Errorf("%d goroutines during the burst, had %d", g, g0)
	}
	for accepted+refused < 10000 {
		r := rec.next(t)
		if r.Get("type") == "error" {
			se := xmpp.ParseStanzaError(r)
			if se.Type != "wait" || se.Condition != "resource-constraint" || !strings.Contains(se.Text, "limit 8") {
				t.Fatalf("refusal %s", r)
			}
			refused++
		} else {
			accepted++
		}
	}
	if accepted != 8 {
		t.Errorf("accepted %d, want 8", accepted)
	}
	close(gate)
	for range accepted {
		collectMsgs(t, rec)
	}
	waitFor(t, func() bool { return srv.Pending() == 0 && runtime.NumGoroutine() <= g0+2 })
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 16<<20 {
		t.Errorf("heap grew by %d bytes", grow)
	}
}

// collectMsgs reads messages up to one marked done.
func collectMsgs(t *testing.T, r *recorder) {
	t.Helper()
	for {
		v, _ := Parse(r.next(t).FirstChild())
		if f, ok := v.(Fields); ok && f.Done {
			return
		}
	}
}

type fakeHistory struct {
	mu   sync.Mutex
	got  []any
	data []sensors.Field
}

func (h *fakeHistory) Query(_ context.Context, nodes, fields []string, from, to time.Time, types sensors.ReadoutType) ([]sensors.Field, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = []any{nodes, fields, from, to, types}
	return append([]sensors.Field(nil), h.data...), nil
}

func TestServerHistoryAndAuthorisation(t *testing.T) {
	var hist []sensors.Field
	for i := range 48 {
		hist = append(hist, sensors.Field{Node: "dev", Name: "Temperature", Value: sensors.Numeric(20 + float64(i)/10), Unit: "°C", Decimals: 1,
			Timestamp: t0.Add(-time.Duration(i) * time.Hour), Types: sensors.HistoricalHour})
	}
	h := &fakeHistory{data: hist}
	var askedBy jid.JID
	auth := func(ctx context.Context, from jid.JID, nodes, fields []string) ([]string, error) {
		askedBy = from
		if r, ok := RequestFromContext(ctx); !ok || r.UserToken != "tok" {
			return nil, fmt.Errorf("request not in context: %+v", r)
		}
		if from.Resourcepart() == "evil" {
			return nil, errors.New("provisioning server says no")
		}
		return []string{"Temperature", "Serial"}, nil
	}
	dev := &fakeSensor{node: "dev", fields: allKinds("dev", t0)}
	srv := newTestServer(t, Options{History: h, CanRead: auth}, dev)
	rec := newRecorder()

	srv.handleReq(rec, reqIQ("h", Request{SeqNr: 1, Types: sensors.Historical | sensors.Momentary, From: t0.Add(-10 * time.Hour), To: t0.Add(-5 * time.Hour), UserToken: "tok"}))
	_, msgs := collect(t, rec)
	got := allFields(msgs)
	// Momentary Temperature (allowed; Count and Total are not), then six
	// hourly values in range.
	if len(got) != 7 || got[0].Types != sensors.Momentary || got[1].Types != sensors.HistoricalHour || !got[6].Timestamp.Equal(t0.Add(-10*time.Hour)) {
		t.Errorf("got %s", got)
	}
	if askedBy.String() != client || h.got[4] != sensors.Historical {
		t.Errorf("authorizer asked for %s, history asked %v", askedBy, h.got)
	}

	iq := reqIQ("e", Request{SeqNr: 2, Types: sensors.Momentary, UserToken: "tok"})
	iq.Set("from", "client@example.org/evil")
	srv.handleReq(rec, iq)
	r := rec.next(t)
	if se := xmpp.ParseStanzaError(r); se.Condition != "forbidden" || !strings.Contains(se.Text, "says no") {
		t.Errorf("refusal %s", r)
	}
}

func TestServerLegacyDialect(t *testing.T) {
	srv := newTestServer(t, Options{}, &fakeSensor{node: "dev", fields: allKinds("dev", t0)})
	rec := newRecorder()
	srv.handleReq(rec, reqIQ("3", Request{SeqNr: 3, Types: sensors.Status}))
	rec.next(t)
	m := rec.next(t).String()
	if !strings.Contains(m, "<timeSpan ") || strings.Contains(m, "<duration ") {
		t.Errorf("legacy requester got %s", m)
	}
}

// TestServerQueuesWhenBusy accepts a request beyond MaxConcurrent as
// queued and announces its start once a running readout finishes.
func TestServerQueuesWhenBusy(t *testing.T) {
	gate := make(chan struct{})
	slow := &fakeSensor{node: "slow", fields: allKinds("slow", t0)[:1], gate: gate}
	fast := &fakeSensor{node: "fast", fields: allKinds("fast", t0)[:1]}
	srv := newTestServer(t, Options{MaxConcurrent: 1, ReadTimeout: time.Minute}, slow, fast)
	rec1, rec2 := newRecorder(), newRecorder()
	srv.handleReq(rec1, reqIQ("1", Request{SeqNr: 1, Nodes: []NodeRef{{NodeID: "slow"}}}))
	waitFor(t, func() bool { return len(srv.sem) == 1 })
	srv.handleReq(rec2, reqIQ("2", Request{SeqNr: 2, Nodes: []NodeRef{{NodeID: "fast"}}}))
	if acc, _ := Parse(rec2.next(t).FirstChild()); acc != (Accepted{SeqNr: 2, Queued: true}) {
		t.Fatalf("second request: %+v", acc)
	}
	rec2.none(t, 50*time.Millisecond)
	close(gate)
	collect(t, rec1)
	if v, _ := Parse(rec2.next(t).FirstChild()); v != (Started{SeqNr: 2}) {
		t.Fatalf("got %+v, want started", v)
	}
	if v, _ := Parse(rec2.next(t).FirstChild()); names(v.(Fields).Fields) != "fast/Temperature" || !v.(Fields).Done {
		t.Fatalf("got %+v", v)
	}
}

// TestServerWatchdog reads a single node whose driver hangs ignoring its
// context: the watchdog reports it and completes the readout, and the read
// returning late sends nothing.
func TestServerWatchdog(t *testing.T) {
	hang := make(chan struct{})
	stuck := &fakeSensor{node: "stuck", fields: allKinds("stuck", t0)[:1], hang: hang}
	srv := newTestServer(t, Options{ReadTimeout: 100 * time.Millisecond}, stuck)
	rec := newRecorder()
	start := time.Now()
	srv.handleReq(rec, reqIQ("w", Request{SeqNr: 1, Types: sensors.Momentary}))
	reply, msgs := collect(t, rec)
	if reply.Get("type") != "result" || len(msgs) != 1 {
		t.Fatalf("reply %s, messages %+v", reply, msgs)
	}
	if f := msgs[0].(Failure); !f.Done || len(f.Errors) != 1 || !strings.Contains(f.Errors[0].Text, "fake{stuck}: did not answer in time") {
		t.Errorf("failure %+v", f)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	waitFor(t, func() bool { return srv.Pending() == 0 })
	// The slot stays held by the hung read: the next readout fails fast too.
	srv.handleReq(rec, reqIQ("w2", Request{SeqNr: 2, Types: sensors.Momentary}))
	if _, msgs := collect(t, rec); len(msgs) != 1 || !strings.Contains(msgs[0].(Failure).Errors[0].Text, "busy") {
		t.Errorf("second readout: %+v", msgs)
	}
	close(hang)
	rec.none(t, 100*time.Millisecond)
	// And once it returned, the sensor reads again.
	srv.handleReq(rec, reqIQ("w3", Request{SeqNr: 3, Types: sensors.Momentary}))
	if _, msgs := collect(t, rec); len(msgs) != 1 || names(msgs[0].(Fields).Fields) != "stuck/Temperature" {
		t.Errorf("third readout: %+v", msgs)
	}
}
