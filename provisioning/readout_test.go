package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// meter is a sensor with three momentary fields.
type meter struct{}

var meterSpecs = []sensors.FieldSpec{
	{Name: "Energy", Kind: sensors.KindNumeric, Unit: "kWh", Types: sensors.Momentary},
	{Name: "Power", Kind: sensors.KindNumeric, Unit: "W", Types: sensors.Momentary},
	{Name: "Temperature", Kind: sensors.KindNumeric, Unit: "°C", Types: sensors.Momentary},
}

func (meter) String() string              { return "meter" }
func (meter) Node() string                { return "meter" }
func (meter) Fields() []sensors.FieldSpec { return meterSpecs }
func (meter) Halt() error                 { return nil }
func (meter) Read(context.Context, sensors.ReadoutType) ([]sensors.Field, error) {
	var out []sensors.Field
	for i, s := range meterSpecs {
		out = append(out, s.Field("meter", sensors.Numeric(float64(i)), time.Now(), 0))
	}
	return out, nil
}

// TestReadoutThroughProvisioning serves XEP-0323 readouts authorised by the
// provisioning client: a reader the server allows two fields gets exactly
// those, a stranger is refused, and the second readout is decided from the
// cache.
func TestReadoutThroughProvisioning(t *testing.T) {
	t.Parallel()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device", "prov", "alice", "bob")
	prov := newProvPeer()
	prov.setRule("alice@localhost", rule{read: true, readFields: []string{"Energy", "Power"}})
	pmux := &xmpp.Mux{}
	prov.register(pmux)
	prov.sess = connect(t, clientConfig(t, p, "prov", "prov"), pmux)

	mux := &xmpp.Mux{}
	dev := xmpp.New(clientConfig(t, p, "device", "dev"), mux)
	client := provisioning.New(dev, jid.MustParse("prov@localhost/prov"), provisioning.Options{Logger: testLogger(t)})
	client.Register(mux)
	srv := sensordata.NewServer([]sensors.Sensor{meter{}}, sensordata.Options{CanRead: client.CanRead})
	srv.Register(mux)
	t.Cleanup(func() { srv.Close() })
	ctx := ctxT(t)
	if err := dev.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dev.Close() })

	read := func(user string, seq int32) (sensordata.Result, error) {
		t.Helper()
		m := &xmpp.Mux{}
		c := sensordata.NewClient(m)
		s := connect(t, clientConfig(t, p, user, fmt.Sprint("r", seq)), m)
		return c.Read(ctx, s, dev.LocalJID().String(), sensordata.Request{SeqNr: seq, Types: sensors.Momentary})
	}
	for seq := range int32(2) {
		res, err := read("alice", seq)
		if err != nil {
			t.Fatalf("alice's readout: %v", err)
		}
		var names []string
		for _, f := range res.Fields {
			names = append(names, f.Name)
		}
		if !reflect.DeepEqual(names, []string{"Energy", "Power"}) {
			t.Fatalf("alice read %v, want [Energy Power]", names)
		}
	}
	if n := prov.count("canRead"); n != 1 {
		t.Fatalf("server asked %d canRead questions, want 1", n)
	}
	_, err := read("bob", 9)
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Fatalf("bob's readout: %v, want forbidden", err)
	}
}
