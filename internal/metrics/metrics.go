// Package metrics exposes the agent's state to Prometheus: every numeric
// and boolean sensor field as a gauge labelled with node, field and unit,
// sensor reads, and the XMPP connection (state, reconnects, bytes sent),
// in the Prometheus text exposition format.
//
// Sensor values are observed where they are read: Observe wraps a sensor
// so that every Read (a readout, the history recorder) updates the gauges
// with exactly the values it returned.
//
// It is built on github.com/VictoriaMetrics/metrics rather than
// prometheus/client_golang: the latter, with its protobuf dependency, added
// 4.9 MiB to the ARM binary, past the 12 MB budget of a Pi Zero build;
// this one writes the same exposition format for a fraction of that.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/xiot/xiot/sensors"
)

// Metrics is one set of xiot's metrics.
type Metrics struct {
	set     *vm.Set
	stopped chan struct{} // closed when the server of Serve has shut down
}

// Session is what the metrics read of an XMPP session.
type Session interface {
	Reconnects() int64
	BytesOut() int64
	BytesIn() int64
	Resent() int64
}

// New returns the metrics of an agent: the sensor collectors, process
// metrics, and, when s is not nil, the session's counters (bytes on the
// link, which with XEP-0322 are the EXI bytes, reconnects, resends); online reports
// whether the agent is online.
func New(s Session, online func() bool) *Metrics {
	m := &Metrics{set: vm.NewSet()}
	if s != nil {
		m.set.NewGauge("xiot_xmpp_reconnects_total", func() float64 { return float64(s.Reconnects()) })
		m.set.NewGauge("xiot_xmpp_sent_bytes_total", func() float64 { return float64(s.BytesOut()) })
		m.set.NewGauge("xiot_xmpp_received_bytes_total", func() float64 { return float64(s.BytesIn()) })
		m.set.NewGauge("xiot_xmpp_resent_stanzas_total", func() float64 { return float64(s.Resent()) })
	}
	if online != nil {
		m.set.NewGauge("xiot_xmpp_online", func() float64 {
			if online() {
				return 1
			}
			return 0
		})
	}
	return m
}

// WritePrometheus writes every metric in the Prometheus text format,
// process metrics (CPU, memory, file descriptors) included.
func (m *Metrics) WritePrometheus(w io.Writer) {
	m.set.WritePrometheus(w)
	vm.WriteProcessMetrics(w)
}

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		m.WritePrometheus(w)
	})
}

// name builds a metric name with labels, quoted as the exposition format
// wants (backslash, double quote and newline escaped).
func name(metric string, labels ...string) string {
	b := []byte(metric)
	b = append(b, '{')
	for i := 0; i+1 < len(labels); i += 2 {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, labels[i]...)
		b = append(b, '=', '"')
		for _, c := range []byte(labels[i+1]) {
			switch c {
			case '\\':
				b = append(b, '\\', '\\')
			case '"':
				b = append(b, '\\', '"')
			case '\n':
				b = append(b, '\\', 'n')
			default:
				b = append(b, c)
			}
		}
		b = append(b, '"')
	}
	return string(append(b, '}'))
}

func (m *Metrics) gauge(n string) *vm.Gauge { return m.set.GetOrCreateGauge(n, nil) }

// Func adds a metric whose value f returns at each scrape (a counter kept
// elsewhere, such as the MQTT bridge's, or a current count). name may
// carry labels: Label builds them.
func (m *Metrics) Func(name string, f func() float64) {
	m.set.GetOrCreateGauge(name, f)
}

// Label returns metric with label pairs (name, value, …), values escaped
// as the exposition format requires.
func Label(metric string, labels ...string) string { return name(metric, labels...) }

// durationBuckets are the upper bounds of the request duration histograms.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5}

// Readout records one XEP-0323 readout: its duration and whether a node
// failed. It fits sensordata.Options.OnDone.
func (m *Metrics) Readout(took time.Duration, failed bool) {
	m.set.GetOrCreatePrometheusHistogramExt("xiot_readout_seconds", durationBuckets).Update(took.Seconds())
	result := "ok"
	if failed {
		result = "failure"
	}
	m.set.GetOrCreateCounter(name("xiot_readouts_total", "result", result)).Inc()
}

// Set records one XEP-0325 set: its duration and whether it was refused.
// It fits iotcontrol.ServerOptions.OnSet.
func (m *Metrics) Set(took time.Duration, err error) {
	m.set.GetOrCreatePrometheusHistogramExt("xiot_set_seconds", durationBuckets).Update(took.Seconds())
	result := "ok"
	if err != nil {
		result = "refused"
	}
	m.set.GetOrCreateCounter(name("xiot_sets_total", "result", result)).Inc()
}

// Record updates the gauges with fields.
func (m *Metrics) Record(fields []sensors.Field) {
	for _, f := range fields {
		var v float64
		switch f.Value.Kind() {
		case sensors.KindBoolean:
			if b, _ := f.Value.Bool(); b {
				v = 1
			}
		default:
			x, ok := f.Value.Float()
			if !ok {
				continue
			}
			v = x
		}
		m.gauge(name("xiot_sensor_value", "node", f.Node, "field", f.Name, "unit", f.Unit)).Set(v)
		if !f.Timestamp.IsZero() {
			m.gauge(name("xiot_sensor_timestamp_seconds", "node", f.Node, "field", f.Name)).Set(float64(f.Timestamp.UnixNano()) / 1e9)
		}
	}
}

// Observe wraps s so that its reads update the metrics.
func (m *Metrics) Observe(s sensors.Sensor) sensors.Sensor {
	return &observed{Sensor: s, m: m}
}

type observed struct {
	sensors.Sensor
	m *Metrics
}

func (o *observed) Read(ctx context.Context, types sensors.ReadoutType) ([]sensors.Field, error) {
	start := time.Now()
	fs, err := o.Sensor.Read(ctx, types)
	o.count(start, fs, err)
	return fs, err
}

// Serves passes on the readout types the wrapped sensor serves (history
// records only sensors that serve a historical type); a sensor that does
// not say serves every type.
func (o *observed) Serves() sensors.ReadoutType {
	if sv, ok := o.Sensor.(interface{ Serves() sensors.ReadoutType }); ok {
		return sv.Serves()
	}
	return sensors.AllTypes
}

// Sample passes on the wrapped sensor's history sample (every field
// whatever types it serves), or reads every non-historical type, and
// records what it returns.
func (o *observed) Sample(ctx context.Context) ([]sensors.Field, error) {
	sp, ok := o.Sensor.(interface {
		Sample(ctx context.Context) ([]sensors.Field, error)
	})
	if !ok {
		return o.Read(ctx, sensors.AllTypes&^sensors.Historical)
	}
	start := time.Now()
	fs, err := sp.Sample(ctx)
	o.count(start, fs, err)
	return fs, err
}

func (o *observed) count(start time.Time, fs []sensors.Field, err error) {
	node := o.Node()
	o.m.set.GetOrCreatePrometheusHistogramExt(name("xiot_sensor_read_seconds", "node", node), readBuckets).Update(time.Since(start).Seconds())
	o.m.set.GetOrCreateCounter(name("xiot_sensor_reads_total", "node", node)).Inc()
	if err != nil {
		o.m.set.GetOrCreateCounter(name("xiot_sensor_read_errors_total", "node", node)).Inc()
		return
	}
	o.m.Record(fs)
}

// readBuckets are the upper bounds of the sensor read duration histogram.
var readBuckets = []float64{.001, .005, .01, .05, .1, .5, 1, 5}

// Interval passes on the wrapped sensor's poll interval, when it has one.
func (o *observed) Interval() time.Duration {
	if i, ok := o.Sensor.(interface{ Interval() time.Duration }); ok {
		return i.Interval()
	}
	return 0
}

// Serve listens on addr and serves /metrics until ctx is done. It returns
// once listening, with the address (useful with port 0), and reports a
// failure to listen as an error.
func (m *Metrics) Serve(ctx context.Context, addr string) (net.Addr, error) {
	if m.stopped != nil {
		return nil, errors.New("metrics: already served")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	stopped := make(chan struct{})
	m.stopped = stopped
	go func() {
		defer close(stopped)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener failed after startup; nothing to report to
		}
	}()
	return ln.Addr(), nil
}

// Wait blocks until the server of Serve has shut down after its context
// ended (its port is free again); it returns at once when Serve was not
// called.
func (m *Metrics) Wait() {
	if m.stopped != nil {
		<-m.stopped
	}
}
