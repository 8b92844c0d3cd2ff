package sensordata

import (
	"fmt"
	"testing"
	"time"

	"github.com/xiot/xiot/sensors"
)

// BenchmarkServerMomentary measures the device side of a small momentary
// readout: from the request stanza to the stanzas handed to the session.
func BenchmarkServerMomentary(b *testing.B) {
	s := &fakeSensor{node: "dev", fields: allKinds("dev", t0)[:3]}
	srv := NewServer([]sensors.Sensor{s}, Options{})
	defer srv.Close()
	rec := newRecorder()
	b.ReportAllocs()
	seq := int32(0)
	for b.Loop() {
		seq++
		srv.handleReq(rec, reqIQ("b", Request{SeqNr: seq, Types: sensors.Momentary}))
		for range 2 {
			if e := <-rec.ch; e.Get("type") == "error" {
				b.Fatal(e)
			}
		}
	}
}

// BenchmarkEncodeFields1000 encodes a readout of 1,000 numeric fields to
// XML text, as sent.
func BenchmarkEncodeFields1000(b *testing.B) {
	msg := bigFields()
	b.ReportAllocs()
	for b.Loop() {
		_ = msg.Element().String()
	}
}

// BenchmarkDecodeFields1000 decodes the element of a 1,000-field readout.
func BenchmarkDecodeFields1000(b *testing.B) {
	el := bigFields().Element()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFields(el); err != nil {
			b.Fatal(err)
		}
	}
}

func bigFields() Fields {
	var big []sensors.Field
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for i := range 1000 {
		big = append(big, sensors.Field{Node: fmt.Sprint("node", i/100), Name: fmt.Sprint("Field ", i), Value: sensors.Numeric(float64(i) / 8),
			Unit: "°C", Decimals: 2, Timestamp: ts, Types: sensors.Momentary, QoS: sensors.QoSAutomaticReadout})
	}
	return Fields{SeqNr: 1, Done: true, Fields: big}
}
