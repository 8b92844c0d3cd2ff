package component_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
	"github.com/xiot/xiot/sensors/history"
	"github.com/xiot/xiot/sensors/sensordata"
)

// Values received from MQTT are recorded, and historical readouts of a
// device's JID, and of the concentrator's JID by node, return them.
func TestHistoricalReadouts(t *testing.T) {
	r := startRig(t)
	store, err := history.Open(filepath.Join(r.dir, "history.db"), history.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	r.hist = store
	r.startComponent(t)
	owner := r.login(t, "owner")
	from := time.Now()
	want := []float64{20, 20.5, 21, 21.5, 22}
	for _, v := range want {
		publish(t, r.pub, "plain/thermo1/Temperature", strconv.FormatFloat(v, 'f', 1, 64)+" °C")
		time.Sleep(20 * time.Millisecond) // distinct timestamps
	}
	read := func(to string, nodes []sensordata.NodeRef, fields ...string) []sensors.Field {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		res, err := owner.sd.Read(ctx, owner.s, to, sensordata.Request{Types: sensors.HistoricalOther, From: from, Nodes: nodes, Fields: fields})
		if err != nil || res.Err() != nil {
			t.Fatalf("historical readout of %s: %v %v", to, err, res.Err())
		}
		return res.Fields
	}
	dev, ok := r.c.JID("thermo1")
	if !ok {
		t.Fatal("no JID for thermo1")
	}
	var got []sensors.Field
	waitFor(t, "five recorded values", func() bool {
		got = read(dev, nil, "Temperature")
		return len(got) >= len(want)
	})
	if len(got) != len(want) {
		t.Fatalf("device JID: %d values, want %d: %+v", len(got), len(want), got)
	}
	for i, f := range got {
		if f.Name != "Temperature" || f.Node != "" || f.Types != sensors.HistoricalOther || num(f) != want[i] || f.Unit != "°C" {
			t.Errorf("value %d: %+v, want %v °C", i, f, want[i])
		}
		if i > 0 && !f.Timestamp.After(got[i-1].Timestamp) {
			t.Errorf("value %d not after the one before: %v", i, f.Timestamp)
		}
	}
	// The same series through the concentrator's JID, by node id.
	root := read(r.p.ComponentDomain, []sensordata.NodeRef{{NodeID: "thermo1", SourceID: "MQTT"}}, "Temperature")
	if len(root) != len(want) || num(root[len(root)-1]) != 22 || root[0].Node != "thermo1" {
		t.Errorf("concentrator JID: %+v", root)
	}
	// Another device's history is its own: its retained value came
	// before the recording started, then one new value.
	kitchen, _ := r.c.JID("Kitchen Sensor")
	publish(t, r.pub, "plain/Kitchen Sensor/Humidity", "45 %")
	var other []sensors.Field
	waitFor(t, "the kitchen's value recorded", func() bool { other = read(kitchen, nil); return len(other) > 0 })
	if len(other) != 1 || other[0].Name != "Humidity" || num(other[0]) != 45 {
		t.Errorf("Kitchen Sensor's history: %+v", other)
	}
}

func num(f sensors.Field) float64 {
	v, _ := f.Value.Float()
	return v
}
