package control_test

import (
	"context"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/xiot/xiot/control"
)

// A relay with a failsafe, set for ten minutes as a timed override.
func Example() {
	pin := &gpiotest.Pin{N: "GPIO17"}
	relay, _ := control.NewRelay(pin, false)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ctl, err := control.New([]control.Point{{
		Param:  control.Param{Name: "Heater", Type: control.TypeBoolean},
		Output: relay,
		Safety: control.Safety{Failsafe: control.Bool(false), Grace: time.Minute},
	}}, control.Options{Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctl.Online() // the agent calls this when its session is up
	err = ctl.Set(context.Background(), control.Request{
		From: "operator@example.org/phone", Via: "iq", Override: 10 * time.Minute,
		Changes: []control.Change{{Name: "Heater", Value: control.Bool(true)}},
	})
	fmt.Println("set:", err, pin.Read())
	now = now.Add(10 * time.Minute)
	ctl.Tick()
	fmt.Println("after 10 min:", pin.Read())
	err = ctl.Set(context.Background(), control.Request{Changes: []control.Change{{Name: "Heater", Value: control.Int(1)}}})
	fmt.Println(err)
	// Output:
	// set: <nil> High
	// after 10 min: Low
	// control: set refused: Heater: invalid parameter type: got int, want boolean
}
