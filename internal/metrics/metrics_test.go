package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

// fakeSensor returns fixed fields or an error; it stands for a driver,
// not for our code under test.
type fakeSensor struct {
	fields []sensors.Field
	err    error
}

func (f *fakeSensor) String() string              { return "fake" }
func (f *fakeSensor) Node() string                { return "n1" }
func (f *fakeSensor) Fields() []sensors.FieldSpec { return nil }
func (f *fakeSensor) Halt() error                 { return nil }
func (f *fakeSensor) Interval() time.Duration     { return 7 * time.Second }
func (f *fakeSensor) Read(context.Context, sensors.ReadoutType) ([]sensors.Field, error) {
	return f.fields, f.err
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addr, err := m.Serve(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestObserveUpdatesGauges(t *testing.T) {
	m := New(nil, func() bool { return true })
	ts := time.Unix(1_700_000_000, 0)
	s := &fakeSensor{fields: []sensors.Field{
		{Node: "n1", Name: "Temperature", Value: sensors.Numeric(21.25), Unit: "°C", Timestamp: ts},
		{Node: "n1", Name: "Relay", Value: sensors.Boolean(true), Timestamp: ts},
		{Node: "n1", Name: "Count", Value: sensors.Long(42), Timestamp: ts},
		{Node: "n1", Name: "Label", Value: sensors.String("x"), Timestamp: ts},
	}}
	o := m.Observe(s)
	if _, err := o.Read(context.Background(), sensors.Momentary); err != nil {
		t.Fatal(err)
	}
	if i, ok := o.(interface{ Interval() time.Duration }); !ok || i.Interval() != 7*time.Second {
		t.Error("the wrapper hides the sensor's interval")
	}
	s.err = errors.New("no ACK")
	if _, err := o.Read(context.Background(), sensors.Momentary); err == nil {
		t.Error("error swallowed")
	}
	body := scrape(t, m)
	for _, want := range []string{
		`xiot_sensor_value{node="n1",field="Temperature",unit="°C"} 21.25`,
		`xiot_sensor_value{node="n1",field="Relay",unit=""} 1`,
		`xiot_sensor_value{node="n1",field="Count",unit=""} 42`,
		`xiot_sensor_timestamp_seconds{node="n1",field="Temperature"} 1700000000`,
		`xiot_sensor_reads_total{node="n1"} 2`,
		`xiot_sensor_read_errors_total{node="n1"} 1`,
		`xiot_xmpp_online 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if !strings.Contains(body, `xiot_sensor_read_seconds_bucket{node="n1",le="0.001"}`) || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Error("no read histogram or process metrics")
	}
	if strings.Contains(body, `field="Label"`) {
		t.Error("a string field became a gauge")
	}
}

func TestServeRefusesBadAddress(t *testing.T) {
	if _, err := New(nil, nil).Serve(context.Background(), "256.0.0.1:99999"); err == nil {
		t.Error("listening on a bad address succeeded")
	}
}

// configured stands for sensors.Configured: it says which types it serves
// and samples for history.
type configured struct {
	fakeSensor
	sampled int
}

func (c *configured) Serves() sensors.ReadoutType { return sensors.Momentary }
func (c *configured) Sample(ctx context.Context) ([]sensors.Field, error) {
	c.sampled++
	return c.fields, nil
}

func TestObservePassesOnServesAndSample(t *testing.T) {
	m := New(nil, nil)
	c := &configured{fakeSensor: fakeSensor{fields: []sensors.Field{{Node: "n1", Name: "V", Value: sensors.Numeric(3)}}}}
	o := m.Observe(c)
	if got := o.(interface{ Serves() sensors.ReadoutType }).Serves(); got != sensors.Momentary {
		t.Errorf("Serves %v", got)
	}
	if _, err := o.(interface {
		Sample(context.Context) ([]sensors.Field, error)
	}).Sample(context.Background()); err != nil || c.sampled != 1 {
		t.Errorf("Sample: %v, sampled %d", err, c.sampled)
	}
	if !strings.Contains(scrape(t, m), `xiot_sensor_value{node="n1",field="V",unit=""} 3`) {
		t.Error("a sample did not update the gauge")
	}
}

func TestLabelEscaping(t *testing.T) {
	if got := name("m", "a", `x"y\z`+"\n"); got != `m{a="x\"y\\z\n"}` {
		t.Errorf("%s", got)
	}
}

func TestReadoutAndSetCounters(t *testing.T) {
	m := New(nil, nil)
	m.Readout(3*time.Millisecond, false)
	m.Readout(time.Second, true)
	m.Set(time.Millisecond, nil)
	m.Set(time.Millisecond, errors.New("locked"))
	body := scrape(t, m)
	for _, want := range []string{
		`xiot_readouts_total{result="ok"} 1`, `xiot_readouts_total{result="failure"} 1`,
		`xiot_sets_total{result="ok"} 1`, `xiot_sets_total{result="refused"} 1`,
		`xiot_readout_seconds_count 2`, `xiot_set_seconds_count 2`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
