package exigw

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/pep"
	"github.com/xiot/xiot/sensors/sensordata"
)

// everyKind is a sensor with one field of each XEP-0323 value kind.
type everyKind struct{ ts time.Time }

func (s everyKind) String() string { return "every kind" }
func (s everyKind) Node() string   { return "kinds" }
func (s everyKind) Halt() error    { return nil }
func (s everyKind) Fields() []sensors.FieldSpec {
	fs, _ := s.Read(context.Background(), sensors.Momentary)
	specs := make([]sensors.FieldSpec, len(fs))
	for i, f := range fs {
		specs[i] = sensors.FieldSpec{Name: f.Name, Kind: f.Value.Kind(), Unit: f.Unit, Decimals: f.Decimals, Types: f.Types, DataType: f.Value.DataType()}
	}
	return specs
}
func (s everyKind) Read(context.Context, sensors.ReadoutType) ([]sensors.Field, error) {
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := func(name string, v sensors.Value) sensors.Field {
		return sensors.Field{Node: "kinds", Name: name, Value: v, Timestamp: s.ts, Types: sensors.Momentary}
	}
	num := f("Temperature", sensors.Numeric(21.25))
	num.Unit, num.Decimals = "°C", 2
	return []sensors.Field{
		num,
		f("Relay", sensors.Boolean(true)),
		f("Count", sensors.Int(-42)),
		f("Energy", sensors.Long(1234567890123)),
		f("Name", sensors.String("boiler room <1>")),
		f("Mode", sensors.Enum("auto", "urn:example:mode")),
		f("Installed", sensors.Date(day)),
		f("LastService", sensors.DateTime(day.Add(90*time.Minute))),
		f("Alarm", sensors.TimeOfDay(day.Add(7*time.Hour+30*time.Minute))),
		f("Uptime", sensors.Duration(49*time.Hour+5*time.Second)),
	}, nil
}

// Real XEP-0323, XEP-0325 and XEP-0163 traffic of a device behind the
// gateway: a readout of every field kind equal to what the sensor read, a
// set applied, and a PEP publication reaching a subscriber.
func TestDevicePayloadsThroughGateway(t *testing.T) {
	e := startEnv(t)
	sensor := everyKind{ts: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
	want, _ := sensor.Read(context.Background(), sensors.Momentary)
	srv := sensordata.NewServer([]sensors.Sensor{sensor}, sensordata.Options{})
	defer srv.Close()
	ctl, err := control.New([]control.Point{
		{Param: control.Param{Node: "thermostat", Name: "Setpoint", Type: control.TypeDouble}, Output: control.NewVirtual("Setpoint", control.TypeDouble, nil), Initial: control.Double(21)},
		{Param: control.Param{Name: "Fan", Type: control.TypeBoolean}, Output: control.NewVirtual("Fan", control.TypeBoolean, nil), Initial: control.Bool(false)},
	}, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Online()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go ctl.Run(ctx)
	defer ctl.Shutdown()
	dmux := &xmpp.Mux{}
	srv.Register(dmux)
	iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{Title: "gateway test"}).Register(dmux)

	cmux := &xmpp.Mux{}
	reader := sensordata.NewClient(cmux)
	notes := make(chan []sensors.Field, 16)
	pep.Listen(cmux, func(_ jid.JID, fields []sensors.Field) {
		select {
		case notes <- fields:
		default: // an old notification nobody waits for
		}
	})
	cli := connect(t, e.config(t, "client", "cli", e.p.C2SAddr, xmpp.EXIConfig{}, nil), cmux)
	if err := cli.Send(ctx, xmpp.NewElement("", "presence")); err != nil {
		t.Fatal(err)
	}

	for i, tc := range []struct {
		name, server string
		x            xmpp.EXIConfig
	}{
		{"direct XML", e.p.C2SAddr, xmpp.EXIConfig{}},
		// Both forms, schema-less and schema-informed, with and without
		// compression.
		{"negotiated/schema-less", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate}},
		{"negotiated/schema-less/compression", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, Alignment: exi.Compression}},
		{"negotiated/schema-informed", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true}},
		{"negotiated/schema-informed/compression", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, Alignment: exi.Compression}},
		{"alternative/schema-less", e.alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative}},
		{"alternative/schema-less/compression", e.alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative, Alignment: exi.Compression}},
		{"alternative/schema-informed", e.alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true}},
		{"alternative/schema-informed/compression", e.alt, xmpp.EXIConfig{Mode: xmpp.EXIAlternative, SchemaInformed: true, Alignment: exi.Compression}},
		// The agent's default: session-wide tables, and a proposal of
		// the schemas of what it speaks.
		{"negotiated/schema-informed/session-wide/agent's schemas", e.neg, xmpp.EXIConfig{Mode: xmpp.EXINegotiate, SchemaInformed: true, SessionWideBuffers: true,
			Namespaces: []string{sensordata.NS, "urn:xmpp:iot:control", xmpp.NSPing}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.g.Stats().EXIStreams
			dev := connect(t, e.config(t, "device", "payload", tc.server, tc.x, nil), dmux)
			defer dev.Close()
			if want := before + map[bool]int64{true: 1}[tc.x.Mode != xmpp.EXIOff]; e.g.Stats().EXIStreams != want {
				t.Fatalf("gateway counted %d EXI streams, want %d", e.g.Stats().EXIStreams, want)
			}
			to := dev.LocalJID().String()
			res, err := reader.Read(ctx, cli, to, sensordata.Request{Types: sensors.Momentary})
			if err != nil || res.Err() != nil {
				t.Fatalf("readout: %v %v", err, res.Err())
			}
			got := make([]string, len(res.Fields))
			for k, f := range res.Fields {
				got[k] = f.String()
			}
			exp := make([]string, len(want))
			for k, f := range want {
				exp[k] = f.String()
			}
			if !slices.Equal(got, exp) {
				t.Fatalf("readout through the gateway:\n got %q\nwant %q", got, exp)
			}
			sp := fmt.Sprintf("%d.5", 15+i)
			if _, err := iotcontrol.Set(ctx, cli, to, iotcontrol.SetRequest{Nodes: []iotcontrol.NodeRef{{NodeID: "thermostat"}},
				Params: []iotcontrol.Param{{Type: control.TypeDouble, Name: "Setpoint", Value: sp}}}); err != nil {
				t.Fatalf("set: %v", err)
			}
			if v, _ := ctl.Get("thermostat", "Setpoint"); v.String() != sp {
				t.Fatalf("setpoint %s after the set, want %s", v, sp)
			}
			// Publishing creates the node (open access); then a
			// subscriber gets the next change.
			pub := pep.NewPublisher(dev, pep.Options{AccessModel: "open"})
			temp := want[0]
			if _, err := pub.Update(ctx, []sensors.Field{temp}); err != nil {
				t.Fatalf("publish: %v", err)
			}
			if err := pep.Subscribe(ctx, cli, dev.LocalJID().Bare()); err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			temp.Value = sensors.Numeric(float64(30 + i))
			if _, err := pub.Update(ctx, []sensors.Field{temp}); err != nil {
				t.Fatalf("publish: %v", err)
			}
			for {
				select {
				case fs := <-notes:
					if len(fs) == 1 && fs[0].Name == "Temperature" && fs[0].Value.Equal(temp.Value) {
						return
					}
				case <-ctx.Done():
					t.Fatal("no PEP notification")
				}
			}
		})
	}
}
