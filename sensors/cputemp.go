package sensors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// DefaultThermalZone is the Linux sysfs file holding the SoC temperature in
// millidegrees Celsius.
const DefaultThermalZone = "/sys/class/thermal/thermal_zone0/temp"

// CPUTempOpts configures the SoC temperature sensor.
type CPUTempOpts struct {
	// Node is the node id; "" means "cpu".
	Node string
	// Path is the sysfs file to read; "" means DefaultThermalZone.
	Path string
	// Now stamps the fields; nil means time.Now.
	Now func() time.Time
}

// CPUTemp reports the SoC temperature from the Linux thermal subsystem.
type CPUTemp struct {
	opts CPUTempOpts
	now  func() time.Time
}

var cpuTemperature = FieldSpec{Name: "Temperature", Kind: KindNumeric, Unit: "°C", Decimals: 1, Types: Momentary}

// NewCPUTemp checks that the thermal zone file can be read.
func NewCPUTemp(opts CPUTempOpts) (*CPUTemp, error) {
	if opts.Path == "" {
		opts.Path = DefaultThermalZone
	}
	if opts.Node == "" {
		opts.Node = "cpu"
	}
	c := &CPUTemp{opts: opts, now: nowOr(opts.Now)}
	if _, err := c.read(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *CPUTemp) read() (float64, error) {
	b, err := os.ReadFile(c.opts.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, fmt.Errorf("cpu temperature %s: %w (no thermal zone: not a Linux board, or the zone number is wrong)", c.opts.Path, err)
	case errors.Is(err, fs.ErrPermission):
		return 0, fmt.Errorf("cpu temperature %s: %w (permission denied)", c.opts.Path, err)
	case err != nil:
		return 0, fmt.Errorf("cpu temperature %s: %w", c.opts.Path, err)
	}
	milli, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("cpu temperature %s: want millidegrees, got %q", c.opts.Path, strings.TrimSpace(string(b)))
	}
	return float64(milli) / 1000, nil
}

// String names the file read.
func (c *CPUTemp) String() string { return "CPUTemp{" + c.opts.Path + "}" }

// Node returns the node id.
func (c *CPUTemp) Node() string { return c.opts.Node }

// Fields lists Temperature.
func (c *CPUTemp) Fields() []FieldSpec { return []FieldSpec{cpuTemperature} }

// Read reads the thermal zone.
func (c *CPUTemp) Read(ctx context.Context, types ReadoutType) ([]Field, error) {
	if types != 0 && !types.Intersects(Momentary) {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	v, err := c.read()
	if err != nil {
		return nil, err
	}
	return []Field{cpuTemperature.Field(c.opts.Node, Numeric(v), c.now(), QoSAutomaticReadout)}, nil
}

// Halt does nothing; the file is opened per read.
func (c *CPUTemp) Halt() error { return nil }

// Interface checks.
var (
	_ Sensor = (*BME280)(nil)
	_ Sensor = (*DS18B20)(nil)
	_ Sensor = (*DigitalInput)(nil)
	_ Sensor = (*PulseCounter)(nil)
	_ Sensor = (*CPUTemp)(nil)
)
