package sim

import (
	"math"
	"time"
)

// Ambient are the simulated values of the parts on i2c.go's chips that At
// does not cover. The AHT20 and the SCD41 measure the room's Temperature
// and Humidity from At.
type Ambient struct {
	Light  float64 // lx (BH1750)
	CO2    float64 // ppm (SCD41)
	Tank   float64 // bar, through a 0.5–4.5 V transducer on ADS1115 input 0
	Supply float64 // V on the INA219's bus side
	Load   float64 // A through the INA219's 0.1 Ω shunt
}

// Fixed inputs of the simulated ADS1115 besides input 0.
const (
	// ADS1115Input1 is the voltage on input 1 (a 3.3 V rail halved by a
	// divider).
	ADS1115Input1 = 1.65
	// INA219Shunt is the shunt resistance in ohms.
	INA219Shunt = 0.1
)

// AmbientAt returns the simulated values at t. With e the time elapsed
// since Start, w = 2π·e/Period and v = 2π·e/(3·Period):
//
//	Light  = 400 + 300·sin w
//	CO2    = 700 + 250·sin v
//	Tank   = 5 + 3·cos w
//	Supply = 12 + 0.25·sin w
//	Load   = 0.8 + 0.4·cos w
func (b *Board) AmbientAt(t time.Time) Ambient {
	w := 2 * math.Pi * t.Sub(b.start).Seconds() / Period.Seconds()
	return Ambient{
		Light:  400 + 300*math.Sin(w),
		CO2:    700 + 250*math.Sin(w/3),
		Tank:   5 + 3*math.Cos(w),
		Supply: 12 + 0.25*math.Sin(w),
		Load:   0.8 + 0.4*math.Cos(w),
	}
}

// TankVoltage is the transducer's output for p bar: 0.5 V at 0 bar, 4.5 V
// at 10 bar.
func TankVoltage(p float64) float64 { return 0.5 + p*0.4 }
