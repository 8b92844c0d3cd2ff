// Package simsensors starts the sensors of a simulated board for the
// benchmarks that need a device to read.
package simsensors

import (
	"github.com/xiot/xiot/boards/sim"
	"github.com/xiot/xiot/sensors"
)

// Start returns the sensors of a new simulated board and a function that
// halts them.
func Start() ([]sensors.Sensor, func(), error) {
	ss, err := sim.New(nil).Sensors()
	if err != nil {
		return nil, nil, err
	}
	return ss, func() {
		for _, s := range ss {
			s.Halt()
		}
	}, nil
}
