package mqttbridge

import (
	"errors"
	"testing"

	"github.com/xiot/xiot/internal/config"
)

// FuzzOnMessage feeds arbitrary topics and payloads to a bridge with every
// decoder and Homie discovery: nothing may panic, and every device must
// stay within the registry's bounds.
func FuzzOnMessage(f *testing.F) {
	for _, s := range [][2]string{
		{"plain/d/t", "21.5 °C"},
		{"json/d", `{"a":{"b":[1]}}`},
		{"senml/d", `[{"n":"x","v":1}]`},
		{"cbor/d", "\x81\xa2\x00\x61\x78\x02\x01"},
		{"avail/d", "online"},
		{"avail/d", `{"state":"offline"}`},
		{"homie/h/$state", "ready"},
		{"homie/h/n/p/$datatype", "enum"},
		{"homie/h/n/p/$format", "a,b"},
		{"homie/h/n/p", "a"},
		{"homie/$broadcast/x", "y"},
		{"homie/h/n/p/set", "b"},
	} {
		f.Add(s[0], []byte(s[1]))
	}
	br, err := New(config.MQTT{
		Brokers:         []string{"tcp://127.0.0.1:1"},
		MaxDevices:      50,
		MaxPayloadBytes: 4096,
		Homie:           config.MQTTHomie{Enabled: true},
		Mappings: []config.MQTTMapping{
			{Topic: "plain/{device}/{field}", AvailabilityTopic: "avail/{device}"},
			{Topic: "json/{device}", Decoder: config.DecoderJSON, Path: "a.b[0]", Field: "x", Type: "long"},
			{Topic: "senml/{device}", Decoder: config.DecoderSenMLJSON},
			{Topic: "cbor/{device}", Decoder: config.DecoderSenMLCBOR, Node: "n"},
			{Topic: "any/#", Device: "fixed", Type: "enum"},
		},
	}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, topic string, p []byte) {
		br.main.onMessage(br.main.client, message{topic, p})
		if n := len(br.Devices()); n > 50 {
			t.Fatalf("%d devices beyond the bound", n)
		}
		for _, d := range br.Devices() {
			for _, fl := range d.Fields {
				if err := fl.Validate(); err != nil {
					t.Fatalf("device %s holds an invalid field: %v", d.ID, err)
				}
			}
		}
	})
}

// FuzzMapping feeds arbitrary run-time mappings (as XEP-0326 forms bring
// them) to CheckMapping, AddMapping and PublishSample, then a message
// through the mapping: nothing may panic, and a mapping is either refused
// or compiled.
func FuzzMapping(f *testing.F) {
	for _, s := range [][6]string{
		{"m", "rt/{device}/{field}", "", "plain", "", "numeric"},
		{"m", "a/#", "dev", "json", "x.y[2]", ""},
		{"config-1", "t", "", "senml-cbor", "", ""},
		{"m", "{device}/+/{field}/#", "", "json", "", "enum"},
		{"", "a//b", "", "xml", "$", "blob"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], "rt/d/f", []byte("1"))
	}
	br, err := New(config.MQTT{Brokers: []string{"tcp://127.0.0.1:1"}, MaxDevices: 50}, Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, topic, device, decoder, path, typ, msgTopic string, p []byte) {
		mc := config.MQTTMapping{Topic: topic, Device: device, Decoder: decoder, Path: path, Type: typ}
		checked := br.CheckMapping(id, mc)
		err := br.AddMapping(t.Context(), id, mc)
		if (checked == nil) != (err == nil || errors.Is(err, ErrMappingExists) || errors.Is(err, ErrTooManyMappings)) {
			t.Fatalf("CheckMapping %v but AddMapping %v", checked, err)
		}
		_ = br.PublishSample(t.Context(), id, device, "f", p, false)
		br.main.onMessage(br.main.client, message{msgTopic, p})
		if err == nil {
			if err := br.RemoveMapping(t.Context(), id); err != nil {
				t.Fatalf("removing the added mapping: %v", err)
			}
		}
	})
}
