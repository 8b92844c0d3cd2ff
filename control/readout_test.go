package control

import (
	"context"
	"testing"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/xiot/xiot/sensors"
)

func TestSensorsReadWritableFields(t *testing.T) {
	clk := newClock()
	c, err := New([]Point{
		relayPoint(t, &gpiotest.Pin{N: "R"}, false, Safety{}),
		{Param: Param{Node: "thermostat", Name: "Setpoint", Type: TypeDouble}, Output: NewVirtual("Setpoint", TypeDouble, nil), Initial: Double(21.5)},
		{Param: Param{Node: "thermostat", Name: "Color", Type: TypeColor}, Output: NewVirtual("Color", TypeColor, nil), Initial: must(t, TypeColor, "3399FF")},
	}, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	ss := c.Sensors()
	if len(ss) != 2 || ss[0].Node() != "" || ss[1].Node() != "thermostat" {
		t.Fatalf("sensors %v", ss)
	}
	specs := ss[1].Fields()
	if len(specs) != 2 || specs[0].Kind != sensors.KindNumeric || specs[1].Kind != sensors.KindString || !specs[0].Writable {
		t.Errorf("specs %+v", specs)
	}
	fields, err := ss[1].Read(context.Background(), sensors.Status)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"thermostat/Setpoint = 21.5 [status; automaticReadout]", "thermostat/Color = 3399FF [status; automaticReadout]"}
	if len(fields) != len(want) {
		t.Fatalf("fields %v", fields)
	}
	for i, f := range fields {
		if f.String() != want[i] || !f.Writable || !f.Timestamp.Equal(clk.Now()) {
			t.Errorf("field %d: %s (writable %v), want %s", i, f, f.Writable, want[i])
		}
		if err := f.Validate(); err != nil {
			t.Errorf("field %s: %v", f.Name, err)
		}
	}
	if fields, _ := ss[1].Read(context.Background(), sensors.Momentary); len(fields) != 0 {
		t.Errorf("momentary readout returned %v", fields)
	}
}
