package config

import (
	"net/url"
	"path/filepath"

	"github.com/xiot/xiot/exi"
	"github.com/xiot/xiot/internal/xmpp"
)

// EXI modes accepted by exi.mode.
const (
	EXIOff         = "off"                 // plain XML (also the empty value)
	EXINegotiate   = "negotiate"           // XEP-0322 through XEP-0138 compression, XML when not offered
	EXIAlternative = "alternative-binding" // EXI from the first byte on the server's EXI port
)

// EXI configures EXI-compressed XMPP (XEP-0322) for the account's
// connection, for constrained links; "xiot exigw" provides it in front of
// servers that lack it.
type EXI struct {
	// Mode is off (or empty), negotiate or alternative-binding.
	Mode string `yaml:"mode"`
	// Server is the host:port of the EXI port for alternative-binding;
	// empty means account.server.
	Server string `yaml:"server"`
	// SchemaInformed uses the canonical schema of the XMPP and IoT schemas
	// xiot embeds; false is schema-less EXI.
	SchemaInformed bool `yaml:"schema_informed"`
	// Alignment is bit-packed (or empty), byte-alignment, pre-compression
	// or compression (DEFLATE on top of EXI).
	Alignment string `yaml:"alignment"`
	// Strict selects strict schema-informed grammars (schema_informed only).
	Strict bool `yaml:"strict"`
	// BlockSize is the EXI blockSize for (pre-)compression; 0: EXI default.
	BlockSize int `yaml:"block_size"`
	// ValueMaxLength and ValuePartitionCapacity bound the string tables;
	// 0 means the XEP-0322 default of 64.
	ValueMaxLength         int `yaml:"value_max_length"`
	ValuePartitionCapacity int `yaml:"value_partition_capacity"`
	// SessionWideBuffers proposes XEP-0322 sessionWideBuffers with
	// negotiate: the string tables last for the whole stream instead of
	// one stanza, so JIDs, ids and names are sent once. The alternative
	// binding cannot carry it and ignores it.
	SessionWideBuffers bool `yaml:"session_wide_buffers"`
	// SchemaLocation is an http(s) URL prefix where the schemas are
	// published under their file names: a server (or xiot exigw) that
	// lacks one is asked to download it (XEP-0322 downloadSchema) instead
	// of receiving it over the device's link; empty uploads them.
	SchemaLocation string `yaml:"schema_location"`
}

var exiAlignments = map[string]exi.Alignment{
	"": exi.BitPacked, "bit-packed": exi.BitPacked, "byte-alignment": exi.ByteAligned,
	"pre-compression": exi.PreCompression, "compression": exi.Compression,
}

// session returns the session's EXI settings.
func (e EXI) session() xmpp.EXIConfig {
	x := xmpp.EXIConfig{SchemaInformed: e.SchemaInformed, Alignment: exiAlignments[e.Alignment], Strict: e.Strict,
		BlockSize: e.BlockSize, ValueMaxLength: e.ValueMaxLength, ValuePartitionCapacity: e.ValuePartitionCapacity,
		SessionWideBuffers: e.SessionWideBuffers, SchemaLocation: e.SchemaLocation}
	switch e.Mode {
	case EXINegotiate:
		x.Mode = xmpp.EXINegotiate
	case EXIAlternative:
		x.Mode = xmpp.EXIAlternative
	}
	return x
}

// exiSession is the session's EXI configuration, with the quick
// configuration kept in the state directory (XEP-0322 configurationId:
// later logins skip the schema list).
func (c *Config) exiSession() xmpp.EXIConfig {
	x := c.EXI.session()
	if x.Mode != xmpp.EXIOff && c.StateDir != "" {
		x.QuickFile = filepath.Join(c.StateDir, EXIQuickFile)
	}
	return x
}

// EXIQuickFile is the file in the state directory that keeps the
// XEP-0322 quick configuration across restarts.
const EXIQuickFile = "exi-configuration.json"

// server returns the address the account connects to: the EXI port for
// the alternative binding when one is set, account.server otherwise.
func (c *Config) server() string {
	if c.EXI.Mode == EXIAlternative && c.EXI.Server != "" {
		return c.EXI.Server
	}
	return c.Account.Server
}

func (c *Config) checkEXI() []error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, c.src.atf(key, format, args...)) }
	e := c.EXI
	switch e.Mode {
	case "", EXIOff, EXINegotiate, EXIAlternative:
	default:
		add("exi.mode", "must be %s, %s or %s, not %q", EXIOff, EXINegotiate, EXIAlternative, e.Mode)
	}
	if e.Mode == EXIAlternative && e.Server == "" && c.Account.Server == "" {
		add("exi.server", "alternative-binding needs the EXI port: set exi.server or account.server")
	}
	if _, ok := exiAlignments[e.Alignment]; !ok {
		add("exi.alignment", "must be bit-packed, byte-alignment, pre-compression or compression, not %q", e.Alignment)
	}
	if e.Strict && !e.SchemaInformed {
		add("exi.strict", "needs schema_informed: true")
	}
	if e.BlockSize < 0 {
		add("exi.block_size", "must not be negative, not %d", e.BlockSize)
	}
	if e.ValueMaxLength < 0 {
		add("exi.value_max_length", "must not be negative, not %d", e.ValueMaxLength)
	}
	if e.ValuePartitionCapacity < 0 {
		add("exi.value_partition_capacity", "must not be negative, not %d", e.ValuePartitionCapacity)
	}
	if l := e.SchemaLocation; l != "" {
		if u, err := url.Parse(l); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("exi.schema_location", "must be an http or https URL, not %q", l)
		}
	}
	return errs
}
