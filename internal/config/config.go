// Package config loads the xiot configuration: one declarative YAML file
// (see example.yaml, printed by "xiot config example") with one section per
// concern, optionally overridden by command-line flags.
//
// Load decodes the file strictly: unknown keys, wrong types and invalid
// values are all reported, each as an *Error naming the file, line and key
// ("xiot.yaml:12: account.jid: not a valid JID: ..."). Load does not touch
// any file but the configuration itself; Preflight checks the rest (secret
// files and their permissions, the CA bundle) before a daemon starts.
//
// Secrets are never printed: fields of type Secret redact themselves in
// fmt, slog, JSON and YAML output, and secret files are read only on demand
// by Password and ComponentSecret.
package config

import (
	"time"

	"mellium.im/xmpp/jid"
)

// DefaultResource is the resource appended to a bare account JID.
const DefaultResource = "xiot"

// Board selections accepted by the board key.
const (
	BoardAuto = "auto" // detect the host board with periph
	BoardSim  = "sim"  // simulated board, no hardware
	BoardNone = "none" // no sensors or outputs
)

// Config is the whole configuration. Add a section by adding a struct field
// with a yaml tag; decoding, unknown-key detection and encoding follow from
// the struct, and validation goes in validate.go.
type Config struct {
	Account   Account   `yaml:"account"`
	Component Component `yaml:"component"`
	// Board is BoardAuto, BoardSim or BoardNone.
	Board string `yaml:"board"`
	Log   Log    `yaml:"log"`
	XMPP  XMPP   `yaml:"xmpp"`
	// StateDir holds persisted state (history, overrides).
	StateDir string `yaml:"state_dir" xiot:"path"`

	Sensors []Sensor `yaml:"sensors"` // declared sensors; see sensors.go
	Outputs []Output `yaml:"outputs"` // XEP-0325 control parameters; see control.go
	MQTT    MQTT     `yaml:"mqtt"`    // the concentrator's MQTT bridge; see mqtt.go
	Metrics Metrics  `yaml:"metrics"` // Prometheus endpoint; see metrics.go
	History History  `yaml:"history"` // retention of sensor samples; see history.go
	Push    Push     `yaml:"push"`    // publishing readings on change; see push.go
	EXI     EXI      `yaml:"exi"`     // EXI-compressed XMPP (XEP-0322); see exi.go
	// Provisioning is the XEP-0324 trust delegation; see provisioning.go.
	Provisioning Provisioning `yaml:"provisioning"`
	Registry     Registry     `yaml:"registry"` // "xiot registry"; see registry.go

	// src records where each key came from, for error messages.
	src sources
}

// Account is the XMPP client account of the device.
type Account struct {
	// JID is the full JID to log in as; a bare JID gets DefaultResource.
	// The zero JID means "not configured" (see Preflight).
	JID jid.JID `yaml:"jid"`
	// Password is the inline password; prefer PasswordFile. At most one of
	// the two is set. Read it through Config.Password.
	Password Secret `yaml:"password"`
	// PasswordFile names a file holding the password, readable by its owner
	// only.
	PasswordFile string `yaml:"password_file" xiot:"path"`
	// Server is a host:port override; empty means DNS SRV lookup, then
	// domain:5222.
	Server string `yaml:"server"`
	// DirectTLS connects with TLS from the first byte (XEP-0368).
	DirectTLS bool `yaml:"direct_tls"`
	// CAFile is a PEM bundle that replaces the system roots when set.
	CAFile string `yaml:"ca_file" xiot:"path"`
	// TLSServerName overrides the name verified in the server certificate;
	// see ServerName.
	TLSServerName string `yaml:"tls_server_name"`
	// InsecureSkipVerify disables certificate verification (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// AllowPlain permits SASL PLAIN over TLS when no SCRAM mechanism is
	// offered.
	AllowPlain bool `yaml:"allow_plain"`
	// Priority is the presence priority, -128..127.
	Priority int `yaml:"priority"`
	// Owners are bare JIDs whose subscription requests are accepted.
	Owners []jid.JID `yaml:"owners"`
}

// ServerName returns the name to verify in the server certificate:
// TLSServerName, or the JID's domain when that is empty.
func (a Account) ServerName() string {
	if a.TLSServerName != "" {
		return a.TLSServerName
	}
	return a.JID.Domainpart()
}

// Component is an XEP-0114 external component connection. It is either
// entirely empty (unused) or fully set.
type Component struct {
	// Domain is the component's JID, a bare domain such as
	// registry.example.org.
	Domain string `yaml:"domain"`
	// Server is the host:port of the server's component listener.
	Server string `yaml:"server"`
	// SecretFile names a file holding the shared secret, readable by its
	// owner only. Read it through Config.ComponentSecret.
	SecretFile string `yaml:"secret_file" xiot:"path"`
}

// Enabled reports whether a component connection is configured.
func (c Component) Enabled() bool {
	return c.Domain != "" || c.Server != "" || c.SecretFile != ""
}

// Log configures the process logger; see Log.NewLogger.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // text or json
}

// XMPP holds session tuning shared by client and component connections.
type XMPP struct {
	// MaxStanzaBytes is the largest stanza accepted before the stream is
	// ended with a policy-violation error.
	MaxStanzaBytes int `yaml:"max_stanza_bytes"`
	// Keepalive is the idle time after which a ping is sent; 0 disables.
	Keepalive time.Duration `yaml:"keepalive"`
	// ReconnectMin and ReconnectMax bound the exponential reconnect
	// back-off.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// StreamManagement enables XEP-0198 acks and resumption.
	StreamManagement bool `yaml:"stream_management"`
	// ResumeTimeout is the resumption window requested from the server;
	// 0 asks for the server's default.
	ResumeTimeout time.Duration `yaml:"resume_timeout"`
	// TLSPostQuantum offers the hybrid post-quantum key exchange
	// (X25519MLKEM768) in TLS handshakes; false offers only X25519 and
	// P-256, about 2.3 KB less per handshake on a constrained link.
	TLSPostQuantum bool `yaml:"tls_post_quantum"`
}

// Default returns the configuration used for keys a file leaves out. It has
// no account: a daemon needs at least a JID and a password source on top
// (from a file or from flags, see ApplyFlags and Preflight).
func Default() *Config {
	return &Config{
		Board: BoardAuto,
		Log:   Log{Level: "info", Format: "text"},
		XMPP: XMPP{
			MaxStanzaBytes:   256 << 10,
			Keepalive:        60 * time.Second,
			ReconnectMin:     time.Second,
			ReconnectMax:     60 * time.Second,
			StreamManagement: true,
			ResumeTimeout:    300 * time.Second,
			TLSPostQuantum:   true,
		},
		StateDir: "/var/lib/xiot",
		EXI:      EXI{SessionWideBuffers: true},
		Push: Push{
			Interval:    30 * time.Second,
			AccessModel: "presence",
			Default:     PushRule{MinInterval: 30 * time.Second},
		},
	}
}

// File returns the path the configuration was loaded from, or "" for a
// configuration built by Default.
func (c *Config) File() string {
	return c.src.file
}
