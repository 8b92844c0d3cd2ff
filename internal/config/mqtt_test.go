package config

import (
	"strings"
	"testing"
	"time"
)

func TestMQTTValidate(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{"empty", "", nil},
		{"full", `mqtt:
  brokers: [tcp://localhost:1883, mqtts://broker.example.org:8883]
  username: bridge
  password_file: /etc/xiot/mqtt
  qos: 2
  queue_size: 10
  homie: {enabled: true}
  mappings:
    - {topic: "tele/{device}/SENSOR", decoder: json, path: ENERGY.Total, availability_topic: "tele/{device}/LWT"}
    - {topic: "stat/{device}/POWER", type: boolean, command_topic: "cmnd/{device}/POWER"}
    - {topic: "meter/+/#", device: meter1, decoder: senml-cbor}
    - {topic: "sensors/{device}/{field}"}
`, nil},
		{"bad", `mqtt:
  brokers: [http://x, "tcp://"]
  qos: 3
  password_file: /x
  queue_size: -1
  command_timeout: -1s
  homie: {base: "homie/#"}
  mappings:
    - {topic: "a/#/b", decoder: xml, path: a, type: float}
    - {topic: "a/{device}/x{field}", device: d, command_topic: "cmnd/+"}
    - {topic: "a/b", availability_topic: "a/{device}"}
    - {topic: "m/{device}", decoder: senml-json, command_topic: "c/{device}"}
    - {topic: "n/{device}", broker: site2}
`, []string{
			"mqtt.brokers[0]: scheme must be", "mqtt.brokers[1]: no host", "mqtt.qos:", "mqtt.username:",
			"mqtt.queue_size:", "mqtt.command_timeout:", "mqtt.homie.base:",
			"mqtt.mappings[0].topic: # must be the last", "mqtt.mappings[0].device:", "mqtt.mappings[0].decoder:",
			"mqtt.mappings[0].path:", "mqtt.mappings[0].type:", "mqtt.mappings[1].topic: level",
			"mqtt.mappings[1].command_topic: must not contain wildcards", "mqtt.mappings[2].availability_topic: uses {device}",
			"mqtt.mappings[3].command_topic: SenML", "mqtt.mappings[4].broker: only mappings created at run time",
		}},
		{"mappings without broker", "mqtt:\n  mappings: [{topic: a, device: d}]\n", []string{"mqtt.brokers: mappings need"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Load validates the section with the rest of the file; a
			// section that decodes must also pass ValidateMQTT.
			c, err := Decode("x.yaml", []byte(tt.yaml))
			if err == nil {
				err = c.ValidateMQTT()
			}
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("ValidateMQTT: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("ValidateMQTT accepted a bad section")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestMQTTBrokerProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    MQTTBroker
		want []string // keys with a problem
	}{
		{"valid", MQTTBroker{URL: "mqtts://broker.example.org:8883", Username: "u", Password: "p", Homie: true, HomieBase: "devices/homie"}, nil},
		{"empty", MQTTBroker{}, []string{"url"}},
		{"bad", MQTTBroker{URL: "http://x", Password: "p", HomieBase: "h/#"}, []string{"url", "username", "homie_base"}},
		{"control characters", MQTTBroker{URL: "tcp://x:1", ClientID: "a\nb"}, []string{"client_id"}},
		{"credentials in the URL", MQTTBroker{URL: "tcp://u:secret@x:1"}, []string{"url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.b.Problems()
			if len(got) != len(tc.want) {
				t.Errorf("problems %v, want keys %v", got, tc.want)
			}
			for _, k := range tc.want {
				if got[k] == "" {
					t.Errorf("no problem with %s: %v", k, got)
				}
			}
		})
	}
}

func TestMQTTDefaults(t *testing.T) {
	m := MQTT{Mappings: []MQTTMapping{{Topic: "a", Device: "d"}}}.WithDefaults()
	if m.QoS != 1 || m.CommandTimeout != 5*time.Second || m.Homie.Base != "homie" || m.MaxPayloadBytes != 64<<10 {
		t.Errorf("defaults not applied: %+v", m)
	}
	mp := m.Mappings[0]
	if mp.Decoder != DecoderPlain || mp.CommandPayload != "{value}" || mp.PayloadOn != "true" || mp.PayloadAvailable != "online" {
		t.Errorf("mapping defaults not applied: %+v", mp)
	}
	if (MQTT{}).Enabled() {
		t.Error("the zero section is enabled")
	}
}
