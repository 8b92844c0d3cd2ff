// Package metrics exposes the agent's state to Prometheus: every numeric
// and boolean sensor field as a gauge labelled with node, field and unit,
// readout counts, and the XMPP connection (state, reconnects, bytes sent).
//
// Sensor values are observed where they are read: Observe wraps a sensor
// so that every Read (a readout, the history recorder) updates the gauges
// with exactly the values it returned.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/xiot/xiot/sensors"
)

// Metrics is one registry with xiot's collectors.
type Metrics struct {
	reg      *prometheus.Registry
	value    *prometheus.GaugeVec
	stamp    *prometheus.GaugeVec
	reads    *prometheus.CounterVec
	readErrs *prometheus.CounterVec
	readTime *prometheus.HistogramVec
}

// Session is what the metrics read of an XMPP session.
type Session interface {
	Reconnects() int64
	BytesOut() int64
}

// New returns a registry with the sensor collectors, Go runtime and process
// metrics, and, when s is not nil, the session's counters; online reports
// whether the agent is online.
func New(s Session, online func() bool) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xiot_sensor_value", Help: "Last value read of a numeric or boolean sensor field (booleans as 0 or 1), in its unit.",
		}, []string{"node", "field", "unit"}),
		stamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "xiot_sensor_timestamp_seconds", Help: "Unix time of the last value of a sensor field.",
		}, []string{"node", "field"}),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiot_sensor_reads_total", Help: "Sensor reads (readouts and history polls).",
		}, []string{"node"}),
		readErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "xiot_sensor_read_errors_total", Help: "Sensor reads that failed.",
		}, []string{"node"}),
		readTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "xiot_sensor_read_seconds", Help: "Duration of sensor reads.",
			Buckets: []float64{.001, .005, .01, .05, .1, .5, 1, 5},
		}, []string{"node"}),
	}
	m.reg.MustRegister(m.value, m.stamp, m.reads, m.readErrs, m.readTime,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if s != nil {
		m.reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "xiot_xmpp_reconnects_total", Help: "XMPP reconnections."},
				func() float64 { return float64(s.Reconnects()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "xiot_xmpp_sent_bytes_total", Help: "Bytes written to the XMPP server."},
				func() float64 { return float64(s.BytesOut()) }),
		)
	}
	if online != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "xiot_xmpp_online", Help: "1 while the XMPP session is online."},
			func() float64 {
				if online() {
					return 1
				}
				return 0
			}))
	}
	return m
}

// Registry is the Prometheus registry, for more collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
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
		m.value.WithLabelValues(f.Node, f.Name, f.Unit).Set(v)
		if !f.Timestamp.IsZero() {
			m.stamp.WithLabelValues(f.Node, f.Name).Set(float64(f.Timestamp.UnixNano()) / 1e9)
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
	o.m.readTime.WithLabelValues(node).Observe(time.Since(start).Seconds())
	o.m.reads.WithLabelValues(node).Inc()
	if err != nil {
		o.m.readErrs.WithLabelValues(node).Inc()
		return
	}
	o.m.Record(fs)
}

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
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
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
