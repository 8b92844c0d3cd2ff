package config

import (
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"mellium.im/xmpp/jid"
)

// MarshalYAML renders the configuration as a YAML mapping in schema order,
// with durations as "60s"-style strings, JIDs as strings and secrets
// redacted. Loading the output gives the same configuration, except that an
// inline password reads back as "[redacted]".
func (c *Config) MarshalYAML() (any, error) {
	return encodeValue(reflect.ValueOf(c).Elem())
}

// String renders the configuration as YAML with secrets redacted.
func (c *Config) String() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(c); err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Sprintf("config: %v", err)
	}
	return b.String()
}

// LogValue summarises the configuration for slog, without secrets.
func (c *Config) LogValue() slog.Value {
	a := c.Account
	return slog.GroupValue(
		slog.String("file", c.src.file),
		slog.String("jid", a.JID.String()),
		slog.Any("password", a.Password),
		slog.String("password_file", a.PasswordFile),
		slog.String("server", a.Server),
		slog.Bool("direct_tls", a.DirectTLS),
		slog.Bool("insecure_skip_verify", a.InsecureSkipVerify),
		slog.String("board", c.Board),
		slog.String("state_dir", c.StateDir),
	)
}

// encodeValue builds the YAML node for v, mirroring decoder.value.
func encodeValue(v reflect.Value) (*yaml.Node, error) {
	t := v.Type()
	scalar := func(tag, value string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: value}
	}
	switch {
	case t == durationType:
		return scalar("!!str", formatDuration(time.Duration(v.Int()))), nil
	case t == jidType:
		return scalar("!!str", v.Interface().(jid.JID).String()), nil
	case t == secretType:
		return scalar("!!str", v.Interface().(Secret).String()), nil
	case t.Kind() == reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "" || name == "-" {
				continue
			}
			val, err := encodeValue(v.Field(i))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			n.Content = append(n.Content, scalar("!!str", name), val)
		}
		return n, nil
	case t.Kind() == reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			item, err := encodeValue(v.Index(i))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, item)
		}
		return n, nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			val, err := encodeValue(v.MapIndex(k))
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, scalar("!!str", k.String()), val)
		}
		return n, nil
	case t.Kind() == reflect.String:
		return scalar("!!str", v.String()), nil
	case t.Kind() == reflect.Bool:
		return scalar("!!bool", strconv.FormatBool(v.Bool())), nil
	case v.CanInt():
		return scalar("!!int", strconv.FormatInt(v.Int(), 10)), nil
	case v.CanFloat():
		f := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(f, ".eE") {
			f += ".0" // so that YAML reads a float, not an int
		}
		return scalar("!!float", f), nil
	}
	return nil, fmt.Errorf("cannot encode %s", t)
}

// formatDuration prints whole hours, minutes or seconds the way people
// write them ("300s" stays "5m"), anything else in Go's notation.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
