package mqttbridge

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/xiot/xiot/internal/config"
)

// message is an mqtt.Message for feeding the bridge without a broker.
type message struct {
	topic   string
	payload []byte
}

func (m message) Duplicate() bool   { return false }
func (m message) Qos() byte         { return 1 }
func (m message) Retained() bool    { return true }
func (m message) Topic() string     { return m.topic }
func (m message) MessageID() uint16 { return 1 }
func (m message) Payload() []byte   { return m.payload }
func (m message) Ack()              {}

// benchBridge returns a bridge that is never started, with a plain and a
// JSON mapping.
func benchBridge(b *testing.B, maxDevices int) *Bridge {
	br, err := New(config.MQTT{
		Brokers:    []string{"tcp://127.0.0.1:1"},
		MaxDevices: maxDevices,
		Mappings: []config.MQTTMapping{
			{Topic: "plain/{device}/{field}"},
			{Topic: "tele/{device}/SENSOR", Decoder: config.DecoderJSON, Path: "ENERGY.Power", Field: "Power"},
		},
	}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	return br
}

// BenchmarkRegistryMemory reports the heap held per bridged device with
// two fields (the goal is at most 4 KB per device at 10,000).
func BenchmarkRegistryMemory(b *testing.B) {
	const devices = 10000
	for b.Loop() {
		br := benchBridge(b, devices)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range devices {
			br.main.onMessage(br.main.client, message{fmt.Sprintf("plain/dev%05d/temperature", i), []byte("21.5 °C")})
			br.main.onMessage(br.main.client, message{fmt.Sprintf("tele/dev%05d/SENSOR", i), []byte(`{"ENERGY":{"Power":40}}`)})
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := len(br.Devices()); n != devices {
			b.Fatalf("%d devices", n)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/devices, "B/device")
		runtime.KeepAlive(br)
	}
}

// BenchmarkOnMessage measures decoding and recording one plain value.
func BenchmarkOnMessage(b *testing.B) {
	br := benchBridge(b, 1000)
	msgs := make([]message, 1000)
	for i := range msgs {
		msgs[i] = message{fmt.Sprintf("plain/dev%03d/temperature", i), []byte("21.5 °C")}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		br.main.onMessage(br.main.client, msgs[i%len(msgs)])
		i++
	}
}
