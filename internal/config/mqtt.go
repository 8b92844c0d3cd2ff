package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// MQTT bridge defaults, used where the mqtt: section leaves a key at 0 or
// "". The section's zero value is "no bridge" (see MQTT.Enabled).
const (
	DefaultMQTTQoS            = 1
	DefaultMQTTKeepalive      = 30 * time.Second
	DefaultMQTTConnectTimeout = 10 * time.Second
	DefaultMQTTReconnectMax   = 30 * time.Second
	DefaultMQTTCommandTimeout = 5 * time.Second
	DefaultMQTTQueueDeadline  = 30 * time.Second
	DefaultMQTTMaxPayload     = 64 << 10
	DefaultMQTTMaxDevices     = 100000
	DefaultHomieBase          = "homie"
	maxMQTTPayloadLimit       = 16 << 20
)

// MQTT decoders accepted by the decoder key of a mapping.
const (
	DecoderPlain     = "plain"      // a bare value: 23.4, "23.4 °C", ON, text
	DecoderJSON      = "json"       // one value of a JSON document, selected by path
	DecoderSenMLJSON = "senml-json" // RFC 8428 SenML in JSON; one field per record
	DecoderSenMLCBOR = "senml-cbor" // RFC 8428 SenML in CBOR; one field per record
)

// mqttDecoders lists the decoders in the order errors name them.
var mqttDecoders = []string{DecoderPlain, DecoderJSON, DecoderSenMLJSON, DecoderSenMLCBOR}

// mqttValueTypes are the type names a mapping may give (XEP-0323 value
// elements).
var mqttValueTypes = []string{"numeric", "boolean", "int", "long", "string", "enum", "date", "dateTime", "time", "duration"}

// MQTT configures the concentrator's MQTT bridge (xiot concentrator): the
// broker connection, Homie discovery and the topic mappings that turn MQTT
// topics into devices and fields. Every duration or number left at 0 takes
// the Default constant of its name.
type MQTT struct {
	// Brokers are broker URLs tried in order: tcp:// or mqtt:// (plain),
	// ssl://, tls:// or mqtts:// (TLS), ws:// or wss://. Empty disables
	// the bridge.
	Brokers []string `yaml:"brokers"`
	// ClientID identifies the session at the broker; it must be stable for
	// the persistent session to work. "" means "xiot-<host name>".
	ClientID string `yaml:"client_id"`
	// Username and PasswordFile are the broker credentials; the file is
	// read like account.password_file (owner-only permissions).
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file" xiot:"path"`
	// CAFile is a PEM bundle that replaces the system roots for TLS.
	CAFile string `yaml:"ca_file" xiot:"path"`
	// TLSServerName overrides the name verified in the broker certificate.
	TLSServerName string `yaml:"tls_server_name"`
	// InsecureSkipVerify disables certificate verification (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// CleanSession asks the broker to forget the session on disconnect.
	// The default (false) is a persistent session: QoS 1 and 2 messages
	// that arrive while the bridge is away are delivered on reconnect.
	CleanSession bool `yaml:"clean_session"`
	// QoS is the quality of service of subscriptions and commands: 1 or 2;
	// 0 means DefaultMQTTQoS (1).
	QoS int `yaml:"qos"`
	// Keepalive is the MQTT keep-alive interval.
	Keepalive time.Duration `yaml:"keepalive"`
	// ConnectTimeout bounds each connection attempt.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReconnectMax bounds the exponential back-off between reconnects.
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// CommandTimeout is how long a command waits for the device's state
	// echo before it fails.
	CommandTimeout time.Duration `yaml:"command_timeout"`
	// QueueSize is how many commands may wait while the broker is away;
	// 0 makes commands fail at once with an error instead.
	QueueSize int `yaml:"queue_size"`
	// QueueDeadline is how long a queued command waits for the broker.
	QueueDeadline time.Duration `yaml:"queue_deadline"`
	// MaxPayloadBytes is the largest payload decoded; larger ones are
	// counted and logged with their topic.
	MaxPayloadBytes int `yaml:"max_payload_bytes"`
	// MaxDevices bounds the device registry against topic storms.
	MaxDevices int `yaml:"max_devices"`
	// Homie configures discovery of Homie v4 devices.
	Homie MQTTHomie `yaml:"homie"`
	// Mappings turn topics into devices and fields.
	Mappings []MQTTMapping `yaml:"mappings"`
}

// MQTTHomie configures Homie convention (v4) auto-discovery.
type MQTTHomie struct {
	// Enabled subscribes to <base>/# and adds every Homie device found.
	Enabled bool `yaml:"enabled"`
	// Base is the Homie root topic; "" means DefaultHomieBase ("homie").
	Base string `yaml:"base"`
}

// MQTTMapping maps the topics matching a pattern to a device field.
//
// Topic is an MQTT topic filter whose levels may be + (any one level), #
// (the rest, last level only), {device} (any one level, captured as the
// device id) or {field} (any one level, captured as the field name).
// Several mappings may match one topic (e.g. one per JSON path).
type MQTTMapping struct {
	// Topic is the pattern, e.g. "tele/{device}/SENSOR".
	Topic string `yaml:"topic"`
	// Device is the device id when Topic has no {device} level.
	Device string `yaml:"device"`
	// Node is the node id (XEP-0326 nodeId) of the fields; "" is the
	// device itself.
	Node string `yaml:"node"`
	// Field is the field name; "" means the {field} capture, the SenML
	// record name, or the topic's last level.
	Field string `yaml:"field"`
	// Decoder is one of the Decoder constants; "" means plain.
	Decoder string `yaml:"decoder"`
	// Path selects the value of the json decoder, e.g. "ENERGY.Total".
	Path string `yaml:"path"`
	// Type is the value type (numeric, boolean, int, long, string, enum,
	// date, dateTime, time, duration); "" infers it from the payload.
	Type string `yaml:"type"`
	// Unit replaces the payload's unit on numeric values.
	Unit string `yaml:"unit"`
	// CommandTopic makes the field writable: a set publishes here. It may
	// use {device}, {node} and {field}, e.g. "cmnd/{device}/POWER".
	CommandTopic string `yaml:"command_topic"`
	// CommandPayload is the payload template; {value} is the new value,
	// {device} and {field} as above. "" means "{value}".
	CommandPayload string `yaml:"command_payload"`
	// PayloadOn and PayloadOff spell booleans in commands; "" means true
	// and false (Tasmota wants ON and OFF).
	PayloadOn  string `yaml:"payload_on"`
	PayloadOff string `yaml:"payload_off"`
	// AvailabilityTopic is the device's availability (or LWT) topic,
	// e.g. "tele/{device}/LWT"; it may use {device}.
	AvailabilityTopic string `yaml:"availability_topic"`
	// PayloadAvailable and PayloadNotAvailable are the availability
	// payloads, compared without regard to case; "" means online and
	// offline.
	PayloadAvailable    string `yaml:"payload_available"`
	PayloadNotAvailable string `yaml:"payload_not_available"`
	// Broker is the id of the broker node (MQTTBroker) whose connection the
	// mapping subscribes on; "" is mqtt.brokers. Only mappings created at
	// run time (XEP-0326) name one: broker nodes are not in the file.
	Broker string `yaml:"broker"`
}

// MQTTBroker is a further broker connection of the concentrator, created
// at run time as a XEP-0326 node and kept in the concentrator's node
// store, not in the file. Mappings created at run time subscribe on it by
// naming its id in their broker key. QoS, timeouts, the command queue and
// the limits are those of the mqtt: section.
type MQTTBroker struct {
	// URL is the broker: tcp://, mqtt://, ssl://, tls://, mqtts://, ws://
	// or wss://.
	URL string `json:"url"`
	// ClientID identifies the session at the broker; "" means the
	// section's client id (or "xiot-<host name>") followed by "-" and the
	// broker node's id.
	ClientID string `json:"client_id,omitempty"`
	// Username and Password are the broker credentials. The password is
	// given when the node is created and kept in the node store (mode
	// 0600); it is never shown or logged.
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// CAFile is a PEM bundle that replaces the system roots for TLS.
	CAFile string `json:"ca_file,omitempty"`
	// TLSServerName overrides the name verified in the broker certificate.
	TLSServerName string `json:"tls_server_name,omitempty"`
	// CleanSession asks the broker to forget the session on disconnect.
	CleanSession bool `json:"clean_session,omitempty"`
	// Homie discovers the Homie v4 devices under HomieBase ("" means
	// DefaultHomieBase) on this broker.
	Homie     bool   `json:"homie,omitempty"`
	HomieBase string `json:"homie_base,omitempty"`
}

// Problems returns what is wrong with the broker settings, by key (url,
// username, homie_base, …); nil when they are valid. It reads no file.
func (b MQTTBroker) Problems() map[string]string {
	out := map[string]string{}
	if b.URL == "" {
		out["url"] = "must not be empty (write e.g. tcp://localhost:1883)"
	} else if err := checkBrokerURL(b.URL); err != nil {
		out["url"] = err.Error()
	} else if u, _ := url.Parse(b.URL); u.User != nil {
		out["url"] = "must not hold a user name or password; give them as username and password (the password is never shown)"
	}
	if b.Password != "" && b.Username == "" {
		out["username"] = "a password needs a username"
	}
	if strings.ContainsAny(b.HomieBase, "+#") || strings.HasPrefix(b.HomieBase, "/") || strings.HasSuffix(b.HomieBase, "/") {
		out["homie_base"] = fmt.Sprintf("must be a topic without wildcards or leading/trailing '/', not %q", b.HomieBase)
	}
	for k, v := range map[string]string{"client_id": b.ClientID, "username": b.Username, "password": b.Password, "ca_file": b.CAFile, "tls_server_name": b.TLSServerName, "homie_base": b.HomieBase} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			out[k] = "must not contain control characters"
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// TLSConfig returns the TLS settings of the broker connection: root CAs
// from CAFile when set, TLSServerName, TLS 1.2 at least, verification on.
func (b MQTTBroker) TLSConfig() (*tls.Config, error) {
	return mqttTLS(b.TLSServerName, b.CAFile, false, "ca_file")
}

// mqttTLS builds the TLS settings of a broker connection; key names the
// CA file's setting in errors.
func mqttTLS(serverName, caFile string, insecure bool, key string) (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: insecure, //nolint:gosec // explicit opt-in for tests
	}
	if caFile != "" {
		pool, err := loadCAFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Enabled reports whether a bridge is configured.
func (m MQTT) Enabled() bool { return len(m.Brokers) > 0 }

// orDur returns d, or def when d is 0.
func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// orInt returns n, or def when n is 0.
func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// WithDefaults returns m with every key left at 0 or "" set to its
// default (ClientID excepted: it needs the host name).
func (m MQTT) WithDefaults() MQTT {
	m.QoS = orInt(m.QoS, DefaultMQTTQoS)
	m.Keepalive = orDur(m.Keepalive, DefaultMQTTKeepalive)
	m.ConnectTimeout = orDur(m.ConnectTimeout, DefaultMQTTConnectTimeout)
	m.ReconnectMax = orDur(m.ReconnectMax, DefaultMQTTReconnectMax)
	m.CommandTimeout = orDur(m.CommandTimeout, DefaultMQTTCommandTimeout)
	m.QueueDeadline = orDur(m.QueueDeadline, DefaultMQTTQueueDeadline)
	m.MaxPayloadBytes = orInt(m.MaxPayloadBytes, DefaultMQTTMaxPayload)
	m.MaxDevices = orInt(m.MaxDevices, DefaultMQTTMaxDevices)
	if m.Homie.Base == "" {
		m.Homie.Base = DefaultHomieBase
	}
	maps := slices.Clone(m.Mappings)
	for i := range maps {
		mp := &maps[i]
		if mp.Decoder == "" {
			mp.Decoder = DecoderPlain
		}
		if mp.CommandPayload == "" {
			mp.CommandPayload = "{value}"
		}
		if mp.PayloadOn == "" {
			mp.PayloadOn = "true"
		}
		if mp.PayloadOff == "" {
			mp.PayloadOff = "false"
		}
		if mp.PayloadAvailable == "" {
			mp.PayloadAvailable = "online"
		}
		if mp.PayloadNotAvailable == "" {
			mp.PayloadNotAvailable = "offline"
		}
	}
	m.Mappings = maps
	return m
}

// Password returns the broker password read from password_file, or ""
// when none is configured.
func (m MQTT) Password() (string, error) {
	if m.PasswordFile == "" {
		return "", nil
	}
	p, err := ReadSecretFile(m.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("mqtt.password_file: %w", err)
	}
	return p, nil
}

// TLSConfig returns the TLS settings for ssl://, mqtts:// and wss://
// brokers: root CAs from ca_file when set, tls_server_name, verification
// off only when insecure_skip_verify is true, TLS 1.2 at least.
func (m MQTT) TLSConfig() (*tls.Config, error) {
	return mqttTLS(m.TLSServerName, m.CAFile, m.InsecureSkipVerify, "mqtt.ca_file")
}

// ValidateMQTT checks the mqtt: section and returns every problem found,
// each naming its key (and line, for a loaded file).
func (c *Config) ValidateMQTT() error {
	return errors.Join(c.checkMQTT()...)
}

// checkMQTT is ValidateMQTT returning the problems one by one.
func (c *Config) checkMQTT() []error {
	var errs []error
	for _, p := range c.MQTT.problems() {
		errs = append(errs, c.src.at(p.key, p.err))
	}
	return errs
}

// Validate checks the section on its own, without file positions; keys in
// the error are relative to the configuration root ("mqtt.qos").
func (m MQTT) Validate() error {
	var errs []error
	for _, p := range m.problems() {
		errs = append(errs, fmt.Errorf("%s: %w", p.key, p.err))
	}
	return errors.Join(errs...)
}

// problems returns what is wrong with the section, keys from the root.
func (m MQTT) problems() []problem {
	var ps []problem
	add := func(key string, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Errorf(format, args...)})
	}
	for i, b := range m.Brokers {
		if err := checkBrokerURL(b); err != nil {
			add(fmt.Sprintf("mqtt.brokers[%d]", i), "%v", err)
		}
	}
	if !m.Enabled() && len(m.Mappings) > 0 {
		add("mqtt.brokers", "mappings need at least one broker")
	}
	if m.QoS < 0 || m.QoS > 2 {
		add("mqtt.qos", "must be 1 or 2 (0: the default, 1), not %d", m.QoS)
	}
	if m.PasswordFile != "" && m.Username == "" {
		add("mqtt.username", "password_file needs a username")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"keepalive", m.Keepalive}, {"connect_timeout", m.ConnectTimeout}, {"reconnect_max", m.ReconnectMax},
		{"command_timeout", m.CommandTimeout}, {"queue_deadline", m.QueueDeadline}} {
		if d.v < 0 {
			add("mqtt."+d.key, "must not be negative, not %v", d.v)
		}
	}
	if m.QueueSize < 0 || m.QueueSize > 10000 {
		add("mqtt.queue_size", "must be between 0 (fail at once) and 10000, not %d", m.QueueSize)
	}
	if m.MaxPayloadBytes < 0 || m.MaxPayloadBytes > maxMQTTPayloadLimit {
		add("mqtt.max_payload_bytes", "must be between 0 (default %d) and %d, not %d", DefaultMQTTMaxPayload, maxMQTTPayloadLimit, m.MaxPayloadBytes)
	}
	if m.MaxDevices < 0 {
		add("mqtt.max_devices", "must not be negative, not %d", m.MaxDevices)
	}
	if strings.ContainsAny(m.Homie.Base, "+#") || strings.HasPrefix(m.Homie.Base, "/") || strings.HasSuffix(m.Homie.Base, "/") {
		add("mqtt.homie.base", "must be a topic without wildcards or leading/trailing '/', not %q", m.Homie.Base)
	}
	for i, mp := range m.Mappings {
		for _, p := range mp.problems() {
			add(fmt.Sprintf("mqtt.mappings[%d].%s", i, p.key), "%v", p.err)
		}
		if mp.Broker != "" {
			add(fmt.Sprintf("mqtt.mappings[%d].broker", i), "only mappings created at run time (XEP-0326) name a broker node; the file's mappings use mqtt.brokers")
		}
	}
	return ps
}

// checkBrokerURL accepts the schemes paho dials, with a host.
func checkBrokerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL: %q", s)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps", "ws", "wss":
	default:
		return fmt.Errorf("scheme must be tcp, mqtt, ssl, tls, mqtts, ws or wss, not %q in %q", u.Scheme, u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("no host in %q (write e.g. tcp://localhost:1883)", u.Redacted())
	}
	return nil
}

// problems returns what is wrong with one mapping, keys relative to it.
func (mp MQTTMapping) problems() []problem {
	var ps []problem
	bad := func(key, format string, args ...any) {
		ps = append(ps, problem{key, fmt.Errorf(format, args...)})
	}
	levels, err := topicLevels(mp.Topic, true)
	if err != nil {
		bad("topic", "%v", err)
	}
	hasDevice := slices.Contains(levels, "{device}")
	if !hasDevice && mp.Device == "" {
		bad("device", "set device, or capture it with a {device} level in topic")
	}
	if hasDevice && mp.Device != "" {
		bad("device", "topic already captures {device}; leave device empty")
	}
	if mp.Decoder != "" && !slices.Contains(mqttDecoders, mp.Decoder) {
		bad("decoder", "must be one of %s, not %q", strings.Join(mqttDecoders, ", "), mp.Decoder)
	}
	if mp.Path != "" && mp.Decoder != DecoderJSON {
		bad("path", "only the json decoder takes a path")
	}
	if mp.Type != "" && !slices.Contains(mqttValueTypes, mp.Type) {
		bad("type", "must be one of %s, not %q", strings.Join(mqttValueTypes, ", "), mp.Type)
	}
	if mp.CommandTopic != "" {
		if strings.ContainsAny(mp.CommandTopic, "+#") {
			bad("command_topic", "must not contain wildcards: %q", mp.CommandTopic)
		}
		if strings.Contains(mp.CommandTopic, "{field}") && mp.Field == "" && !slices.Contains(levels, "{field}") {
			bad("command_topic", "uses {field} but the mapping has no field name")
		}
		if mp.Decoder == DecoderSenMLJSON || mp.Decoder == DecoderSenMLCBOR {
			bad("command_topic", "SenML mappings cannot be commanded; map the command with a plain or json mapping")
		}
	}
	if mp.AvailabilityTopic != "" {
		if _, err := topicLevels(mp.AvailabilityTopic, false); err != nil {
			bad("availability_topic", "%v", err)
		}
		if strings.Contains(mp.AvailabilityTopic, "{device}") && !hasDevice {
			bad("availability_topic", "uses {device} but topic does not capture it")
		}
	}
	return ps
}

// topicLevels splits an MQTT topic pattern and checks its wildcards and
// captures; captures are allowed only when captures is true... except
// {device}, which availability topics may use too.
func topicLevels(t string, captures bool) ([]string, error) {
	if t == "" {
		return nil, errors.New("must not be empty")
	}
	levels := strings.Split(t, "/")
	seen := map[string]bool{}
	for i, l := range levels {
		switch {
		case l == "#":
			if i != len(levels)-1 {
				return nil, fmt.Errorf("# must be the last level in %q", t)
			}
		case l == "+":
		case l == "{device}" || (captures && l == "{field}"):
			if seen[l] {
				return nil, fmt.Errorf("%s captured twice in %q", l, t)
			}
			seen[l] = true
		case strings.ContainsAny(l, "+#{}"):
			return nil, fmt.Errorf("level %q mixes wildcards or captures with text in %q", l, t)
		}
	}
	return levels, nil
}
