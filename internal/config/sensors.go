package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Sensor drivers accepted by the driver key of a sensors entry.
const (
	DriverBME280  = "bme280"  // Bosch BME280/BMP280 on I²C
	DriverDS18B20 = "ds18b20" // Maxim DS18B20 on 1-Wire, or through a DS248x bridge
	DriverADS1x15 = "ads1x15" // TI ADS1115/ADS1015 ADC input with a linear scale
	DriverINA219  = "ina219"  // TI INA219 voltage, current and power
	DriverAHT20   = "aht20"   // Aosong AHT20 temperature and humidity
	DriverHDC302x = "hdc302x" // TI HDC302x temperature and humidity
	DriverBH1750  = "bh1750"  // ROHM BH1750 light
	DriverSCD4x   = "scd4x"   // Sensirion SCD40/SCD41 CO₂
	DriverGPIO    = "gpio"    // digital input
	DriverPulse   = "pulse"   // S0 meter pulse counter
	DriverCPUTemp = "cputemp" // the board's CPU temperature
)

// sensorDrivers lists each driver with where it is attached and the
// options it accepts.
var sensorDrivers = map[string]struct {
	attach  string // "i2c", "onewire", "pin" or ""
	options []string
}{
	DriverBME280:  {"i2c", nil},
	DriverDS18B20: {"onewire", []string{"resolution", "conversion"}},
	DriverADS1x15: {"i2c", []string{"chip", "input", "full_scale", "scale"}},
	DriverINA219:  {"i2c", []string{"shunt", "max_current"}},
	DriverAHT20:   {"i2c", nil},
	DriverHDC302x: {"i2c", []string{"rate"}},
	DriverBH1750:  {"i2c", nil},
	DriverSCD4x:   {"i2c", nil},
	DriverGPIO:    {"pin", []string{"pull", "invert"}},
	DriverPulse:   {"pin", []string{"pulses_per_kwh", "pull"}},
	DriverCPUTemp: {"", []string{"path"}},
}

// Bounds of a sensor's poll interval.
const (
	MinSensorInterval     = 100 * time.Millisecond
	DefaultSensorInterval = time.Minute
)

// Sensor declares one sensor: which driver reads it, where it is attached,
// its node id, how often it is polled, which readout types it serves and
// how its fields are presented.
type Sensor struct {
	// Driver is one of the Driver constants.
	Driver string `yaml:"driver"`
	// Node is the node id; "" lets the driver name it (e.g. bme280-0x76).
	Node string `yaml:"node"`
	// Bus names the I²C bus ("1" for /dev/i2c-1; "" is the board's
	// default) or, for a DS18B20 without bridge, the 1-Wire bus.
	Bus string `yaml:"bus"`
	// Bridge is, for a DS18B20, the I²C address of a DS248x bridge on Bus
	// (e.g. 0x18); "" means a native 1-Wire bus.
	Bridge string `yaml:"bridge"`
	// Pin names the GPIO of the gpio and pulse drivers.
	Pin string `yaml:"pin"`
	// Address is the I²C address (0x76) or the 1-Wire ROM code, either as
	// Linux names it (28-000005a1b2c3) or as 16 hex digits with the CRC.
	// "" means the chip's default address.
	Address string `yaml:"address"`
	// Interval is how often the sensor is polled for history; 0 means
	// DefaultSensorInterval.
	Interval time.Duration `yaml:"interval"`
	// Types are the XEP-0323 readout types the node serves (momentary,
	// historicalHour, historical, all, …); empty means the driver's own
	// types and every historical type.
	Types []string `yaml:"types"`
	// Fields overrides how fields are presented, by the driver's field
	// name.
	Fields map[string]SensorField `yaml:"fields"`
	// Options are the driver's own settings (see example.yaml).
	Options map[string]string `yaml:"options"`

	pos string // "file:line" of the entry, set by Decode
}

// SensorField overrides the presentation of one field of a sensor.
type SensorField struct {
	// Name renames the field; "" keeps the driver's name.
	Name string `yaml:"name"`
	// Unit replaces the unit label (no conversion is done).
	Unit string `yaml:"unit"`
	// Decimals is the number of decimals, 0..15; "" keeps the driver's.
	Decimals string `yaml:"decimals"`
}

// DecimalsOverride returns the decimals to use and whether they are set.
func (f SensorField) DecimalsOverride() (int, bool) {
	n, err := strconv.Atoi(f.Decimals)
	return n, err == nil && n >= 0 && n <= 15
}

// Where returns "file:line" of the entry when it was decoded from a file,
// else "".
func (s Sensor) Where() string { return s.pos }

// PollInterval returns Interval, or DefaultSensorInterval when it is 0.
func (s Sensor) PollInterval() time.Duration {
	if s.Interval == 0 {
		return DefaultSensorInterval
	}
	return s.Interval
}

// Attachment returns how the driver is attached: "i2c", "onewire", "pin"
// or "" (the board itself), and false for an unknown driver.
func Attachment(driver string) (string, bool) {
	d, ok := sensorDrivers[driver]
	return d.attach, ok
}

// readoutTypeNames are the XEP-0323 field type names a types entry may
// use, with the request shorthands historical and all.
var readoutTypeNames = []string{
	"momentary", "peak", "status", "computed", "identity",
	"historicalSecond", "historicalMinute", "historicalHour", "historicalDay",
	"historicalWeek", "historicalMonth", "historicalQuarter", "historicalYear",
	"historicalOther", "historical", "all",
}

// problem is one invalid value of a Sensor, by key relative to the entry.
type problem struct {
	key string
	err error
}

// Validate checks one entry on its own (Decode also checks that node ids
// are unique). The error lists every problem, keys relative to the entry.
func (s Sensor) Validate() error {
	var msgs []string
	for _, p := range s.problems() {
		msgs = append(msgs, p.key+": "+p.err.Error())
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("sensor %s: %s", s.Driver, strings.Join(msgs, "; "))
}

func (s Sensor) problems() []problem {
	var ps []problem
	add := func(key, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Errorf(format, args...)})
	}
	d, ok := sensorDrivers[s.Driver]
	if !ok {
		names := make([]string, 0, len(sensorDrivers))
		for n := range sensorDrivers {
			names = append(names, n)
		}
		slices.Sort(names)
		if s.Driver == "" {
			add("driver", "%w: one of %s", ErrMissing, strings.Join(names, ", "))
		} else {
			add("driver", "unknown driver %q%s; known drivers: %s", s.Driver, suggest(s.Driver, names), strings.Join(names, ", "))
		}
		return ps
	}
	switch d.attach {
	case "i2c":
		if s.Address != "" {
			if _, err := ParseI2CAddress(s.Address); err != nil {
				add("address", "%v", err)
			}
		}
	case "onewire":
		if s.Address == "" {
			add("address", "%w: the ROM code of the DS18B20, e.g. 28-000005a1b2c3", ErrMissing)
		} else if _, err := ParseOneWireAddress(s.Address); err != nil {
			add("address", "%v", err)
		}
		if s.Bridge != "" {
			if _, err := ParseI2CAddress(s.Bridge); err != nil {
				add("bridge", "%v", err)
			}
		}
	case "pin":
		if s.Pin == "" {
			add("pin", "%w: the %s driver reads a GPIO", ErrMissing, s.Driver)
		}
	}
	if _, ok := s.Options["pulses_per_kwh"]; s.Driver == DriverPulse && !ok {
		add("options.pulses_per_kwh", "%w: the meter constant printed on the meter, e.g. \"1000\"", ErrMissing)
	}
	if s.Bridge != "" && d.attach != "onewire" {
		add("bridge", "only a ds18b20 can sit behind a DS248x bridge")
	}
	if s.Pin != "" && d.attach != "pin" {
		add("pin", "the %s driver has no pin", s.Driver)
	}
	if s.Interval != 0 && s.Interval < MinSensorInterval {
		add("interval", "must be 0 (default %v) or at least %v, not %v", DefaultSensorInterval, MinSensorInterval, s.Interval)
	}
	for i, t := range s.Types {
		if !slices.Contains(readoutTypeNames, t) {
			add(fmt.Sprintf("types[%d]", i), "unknown readout type %q%s", t, suggest(t, readoutTypeNames))
		}
	}
	for name, f := range s.Fields {
		if f.Decimals != "" {
			if _, ok := f.DecimalsOverride(); !ok {
				add("fields."+name+".decimals", "must be an integer 0..15, not %q", f.Decimals)
			}
		}
	}
	for _, k := range sortedKeys(s.Options) {
		if !slices.Contains(d.options, k) {
			known := "none"
			if len(d.options) > 0 {
				known = strings.Join(d.options, ", ")
			}
			add("options."+k, "%w for driver %s%s; known options: %s", ErrUnknownKey, s.Driver, suggest(k, d.options), known)
			continue
		}
		if err := checkOption(s.Driver, k, s.Options[k]); err != nil {
			add("options."+k, "%v", err)
		}
	}
	return ps
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkOption validates the value of a known option.
func checkOption(driver, key, v string) error {
	positive := func() error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) || f > 1e12 {
			return fmt.Errorf("must be a positive number, not %q", v)
		}
		return nil
	}
	switch key {
	case "resolution":
		if n, err := strconv.Atoi(v); err != nil || n < 9 || n > 12 {
			return fmt.Errorf("must be 9, 10, 11 or 12 bits, not %q", v)
		}
	case "conversion":
		if d, err := time.ParseDuration(v); err != nil || d <= 0 || d > 10*time.Second {
			return fmt.Errorf("must be a duration up to 10s such as 750ms, not %q", v)
		}
	case "rate":
		if !slices.Contains([]string{"0.5", "1", "2", "4", "10"}, v) {
			return fmt.Errorf("must be 0.5, 1, 2, 4 or 10 (Hz), not %q", v)
		}
	case "chip":
		if v != "ads1115" && v != "ads1015" {
			return fmt.Errorf("must be ads1115 or ads1015, not %q", v)
		}
	case "input":
		if !slices.Contains([]string{"0", "1", "2", "3", "0-1", "0-3", "1-3", "2-3"}, v) {
			return fmt.Errorf("must be 0, 1, 2, 3, 0-1, 0-3, 1-3 or 2-3, not %q", v)
		}
	case "scale":
		_, err := ParseScale(v)
		return err
	case "full_scale", "shunt", "max_current", "pulses_per_kwh":
		return positive()
	case "pull":
		if !slices.Contains([]string{"up", "down", "float"}, v) {
			return fmt.Errorf("must be up, down or float, not %q", v)
		}
	case "invert":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("must be true or false, not %q", v)
		}
	}
	return nil
}

// ParseScale parses a linear scale written as two points "x0=y0 x1=y1"
// (commas also separate), e.g. "0.5=0 4.5=10" for a 0.5–4.5 V transducer
// reading 0–10 units. It returns x0, y0, x1, y1.
func ParseScale(s string) ([4]float64, error) {
	var out [4]float64
	points := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' })
	bad := fmt.Errorf("scale must be two points \"x0=y0 x1=y1\", e.g. \"0.5=0 4.5=10\", not %q", s)
	if len(points) != 2 {
		return out, bad
	}
	for i, p := range points {
		x, y, ok := strings.Cut(p, "=")
		if !ok {
			return out, bad
		}
		fx, err1 := strconv.ParseFloat(strings.TrimSuffix(x, "V"), 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if err1 != nil || err2 != nil || math.IsNaN(fx) || math.IsNaN(fy) || math.IsInf(fx, 0) || math.IsInf(fy, 0) {
			return out, bad
		}
		out[2*i], out[2*i+1] = fx, fy
	}
	if out[0] == out[2] {
		return out, fmt.Errorf("scale %q: both points have the same input", s)
	}
	return out, nil
}

// ParseI2CAddress parses a 7-bit I²C address, in hex (0x76) or decimal.
func ParseI2CAddress(s string) (uint16, error) {
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil || n < 0x03 || n > 0x77 {
		return 0, fmt.Errorf("not a 7-bit I²C address (0x03..0x77): %q", s)
	}
	return uint16(n), nil
}

// ParseOneWireAddress parses a 1-Wire ROM code as Linux names it
// ("28-000005a1b2c3": family, then the 48-bit serial) or as the 64-bit
// number periph uses (16 hex digits, optionally after 0x, family in the
// low byte and the CRC in the high byte). The result is periph's form;
// the CRC is computed for the Linux form and checked for the other.
func ParseOneWireAddress(s string) (uint64, error) {
	if fam, serial, ok := strings.Cut(s, "-"); ok {
		f, err1 := strconv.ParseUint(fam, 16, 8)
		sn, err2 := strconv.ParseUint(serial, 16, 48)
		if err1 != nil || err2 != nil || len(fam) != 2 || len(serial) != 12 {
			return 0, fmt.Errorf("not a 1-Wire ROM code like 28-000005a1b2c3: %q", s)
		}
		a := f | sn<<8
		var b [7]byte
		for i := range b {
			b[i] = byte(a >> (8 * i))
		}
		return a | uint64(dallasCRC(b[:]))<<56, nil
	}
	h := strings.TrimPrefix(strings.ToLower(s), "0x")
	a, err := strconv.ParseUint(h, 16, 64)
	if err != nil || len(h) != 16 {
		return 0, fmt.Errorf("not a 1-Wire ROM code (28-000005a1b2c3 or 16 hex digits): %q", s)
	}
	var b [7]byte
	for i := range b {
		b[i] = byte(a >> (8 * i))
	}
	if crc := dallasCRC(b[:]); byte(a>>56) != crc {
		return 0, fmt.Errorf("1-Wire ROM code %q: CRC byte is %#02x, want %#02x", s, byte(a>>56), crc)
	}
	return a, nil
}

// dallasCRC is the 1-Wire CRC-8 (x⁸+x⁵+x⁴+1, reflected).
func dallasCRC(b []byte) byte {
	var crc byte
	for _, x := range b {
		for range 8 {
			mix := (crc ^ x) & 1
			crc >>= 1
			if mix != 0 {
				crc ^= 0x8c
			}
			x >>= 1
		}
	}
	return crc
}

// checkSensors validates the sensors section: every entry, and node ids
// unique across entries. It records where each entry is for Where.
func (c *Config) checkSensors() []error {
	var errs []error
	nodes := make(map[string]int)
	for i := range c.Sensors {
		s := &c.Sensors[i]
		key := fmt.Sprintf("sensors[%d]", i)
		if l, ok := c.src.lines[key]; ok && c.src.file != "" {
			s.pos = fmt.Sprintf("%s:%d", c.src.file, l)
		}
		for _, p := range s.problems() {
			errs = append(errs, c.src.at(key+"."+p.key, p.err))
		}
		if s.Node == "" {
			continue
		}
		if j, dup := nodes[s.Node]; dup {
			errs = append(errs, c.src.atf(key+".node", "node %q is also the node of sensors[%d]", s.Node, j))
			continue
		}
		nodes[s.Node] = i
	}
	return errs
}
