package sensordata_test

import (
	"context"
	"fmt"
	"time"

	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/sensordata"
)

// A device serves its sensors: register the Server on the session's mux
// and advertise its features in service discovery.
func ExampleServer() {
	ss, err := sim.New(nil).Sensors()
	if err != nil {
		panic(err)
	}
	defer func() {
		for _, s := range ss {
			s.Halt()
		}
	}()
	srv := sensordata.NewServer(ss, sensordata.Options{ReadTimeout: 2 * time.Second})
	defer srv.Close()
	mux := &xmpp.Mux{}
	srv.Register(mux)
	// session := xmpp.New(cfg, mux) ...
	fmt.Println(srv.Features(), srv.Nodes())
	// Output: [urn:xmpp:iot:sensordata] [bme280 ds18b20 meter thermostat]
}

// A client reads the momentary temperature of one node.
func ExampleClient_Read() {
	mux := &xmpp.Mux{}
	client := sensordata.NewClient(mux)
	var session *xmpp.Session // xmpp.New(cfg, mux), connected
	read := func(ctx context.Context) error {
		res, err := client.Read(ctx, session, "device@example.org/xiot", sensordata.Request{
			Types:  sensors.Momentary,
			Nodes:  []sensordata.NodeRef{{NodeID: "bme280"}},
			Fields: []string{"Temperature"},
		})
		if err != nil {
			return err
		}
		for _, f := range res.Fields {
			fmt.Println(f)
		}
		return res.Err()
	}
	_ = read
}

// The wire form of a request.
func ExampleRequest_Element() {
	r := sensordata.Request{SeqNr: 6, Types: sensors.Momentary, Nodes: []sensordata.NodeRef{{NodeID: "Device04"}}, Fields: []string{"Energy", "Power"}}
	fmt.Println(r.Element())
	// Output: <req xmlns="urn:xmpp:iot:sensordata" seqnr="6" momentary="true"><node nodeId="Device04"/><field name="Energy"/><field name="Power"/></req>
}
