package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
	"mellium.im/xmpp/jid"
)

// maxFileSize bounds the configuration file; anything larger is a mistake.
const maxFileSize = 1 << 20

var (
	durationType = reflect.TypeFor[time.Duration]()
	jidType      = reflect.TypeFor[jid.JID]()
	secretType   = reflect.TypeFor[Secret]()
)

// Load reads, decodes and validates the configuration file at path. Keys
// the file leaves out keep their Default values; relative paths in the file
// are resolved against the file's directory. All problems found are
// returned together (errors.Join of *Error).
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("config: %s: larger than %d bytes", path, maxFileSize)
	}
	return Decode(path, data)
}

// Decode decodes and validates a configuration held in data. name is used
// in error messages and, when it is a path, to resolve relative paths
// (use "" for data that does not come from a file: paths then stay
// relative to the working directory).
func Decode(name string, data []byte) (*Config, error) {
	c := Default()
	c.src = sources{file: name, lines: make(map[string]int)}
	d := decoder{src: &c.src}
	if name != "" {
		d.dir = filepath.Dir(name)
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, yamlError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: name, Line: extra.Line, Err: errors.New("more than one YAML document; xiot reads exactly one")}
	} else if err != io.EOF {
		return nil, yamlError(name, err)
	}
	switch {
	case doc.Kind == 0:
		// Empty file: all defaults.
	case doc.Kind == yaml.DocumentNode && len(doc.Content) == 1:
		d.mapping(doc.Content[0], "", reflect.ValueOf(c).Elem())
	default:
		d.errs = append(d.errs, &Error{File: name, Line: doc.Line, Err: errors.New("expected one YAML document")})
	}
	// Validate even after decode errors so one run reports everything, but
	// skip keys that already failed to decode: their value is the default.
	errs := d.errs
	for _, err := range c.checks() {
		if e, ok := err.(*Error); !ok || !d.failed[e.Key] {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b error) int { return errorLine(a) - errorLine(b) })
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// errorLine orders errors by line for reporting.
func errorLine(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Line
	}
	return 0
}

// yamlError locates a yaml.v3 syntax error ("yaml: line 3: did not find
// expected node content") as an *Error.
func yamlError(name string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		n, tail, _ := strings.Cut(rest, ":")
		if l, err := strconv.Atoi(n); err == nil {
			line, msg = l, strings.TrimSpace(tail)
		}
	}
	return &Error{File: name, Line: line, Err: fmt.Errorf("not valid YAML: %s", msg)}
}

// decoder walks a yaml.Node tree into a Config, driven by the struct's
// yaml tags, collecting every error instead of stopping at the first.
type decoder struct {
	src    *sources
	dir    string // directory of the file, for relative paths
	errs   []error
	failed map[string]bool // keys with a decode error
}

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	if d.failed == nil {
		d.failed = make(map[string]bool)
	}
	d.failed[key] = true
	d.errs = append(d.errs, &Error{File: d.src.file, Line: n.Line, Key: key, Err: fmt.Errorf(format, args...)})
}

// resolve follows aliases (&anchor / *alias) to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func joinKey(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// kindName describes a node kind for error messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "something else"
	}
}

// mapping decodes a YAML mapping into the struct v.
func (d *decoder) mapping(n *yaml.Node, prefix string, v reflect.Value) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, prefix, "expected a mapping of keys, got %s", kindName(n))
		return
	}
	t := v.Type()
	names := make([]string, 0, t.NumField())
	fields := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		fields[name] = i
	}
	seen := make(map[string]bool, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, prefix, "expected a key name, got %s", kindName(k))
			continue
		}
		key := joinKey(prefix, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			if hint := suggest(k.Value, names); hint != "" {
				d.errorf(k, key, "%w%s", ErrUnknownKey, hint)
			} else {
				d.errorf(k, key, "%w; known keys: %s", ErrUnknownKey, strings.Join(names, ", "))
			}
			continue
		}
		if seen[k.Value] {
			d.errorf(k, key, "set more than once (first on line %d)", d.src.lines[key])
			continue
		}
		seen[k.Value] = true
		d.src.lines[key] = k.Line
		f := t.Field(idx)
		d.value(val, key, v.Field(idx), f.Tag.Get("xiot") == "path")
	}
}

// value decodes n into v. A null value keeps what v holds (the default).
func (d *decoder) value(n *yaml.Node, key string, v reflect.Value, isPath bool) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		if s, ok := d.scalar(n, key); ok {
			dur, err := time.ParseDuration(s)
			if err != nil {
				d.errorf(n, key, "not a duration (use e.g. 500ms, 30s, 5m): %q", s)
				return
			}
			v.SetInt(int64(dur))
		}
	case t == jidType:
		if s, ok := d.scalar(n, key); ok {
			if s == "" {
				// "" is the zero JID: not configured.
				v.SetZero()
				return
			}
			j, err := jid.Parse(s)
			if err != nil {
				d.errorf(n, key, "not a valid JID: %q: %v", s, err)
				return
			}
			v.Set(reflect.ValueOf(j))
		}
	case t.Kind() == reflect.Struct:
		d.mapping(n, key, v)
	case t.Kind() == reflect.Slice:
		d.sequence(n, key, v, isPath)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		d.stringMap(n, key, v, isPath)
	case t.Kind() == reflect.String:
		if s, ok := d.scalar(n, key); ok {
			if isPath && s != "" && !filepath.IsAbs(s) && d.dir != "" {
				s = filepath.Join(d.dir, s)
			}
			v.SetString(s)
		}
	case t.Kind() == reflect.Bool:
		if _, ok := d.scalar(n, key); ok {
			var b bool
			if n.Tag != "!!bool" || n.Decode(&b) != nil {
				d.errorf(n, key, "expected true or false, got %q", n.Value)
				return
			}
			v.SetBool(b)
		}
	case v.CanInt():
		if _, ok := d.scalar(n, key); ok {
			var i int64
			if n.Tag != "!!int" || n.Decode(&i) != nil {
				d.errorf(n, key, "expected an integer, got %q", n.Value)
				return
			}
			if v.OverflowInt(i) {
				d.errorf(n, key, "%d is out of range", i)
				return
			}
			v.SetInt(i)
		}
	case v.CanFloat():
		if _, ok := d.scalar(n, key); ok {
			var f float64
			if (n.Tag != "!!float" && n.Tag != "!!int") || n.Decode(&f) != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				d.errorf(n, key, "expected a number, got %q", n.Value)
				return
			}
			v.SetFloat(f)
		}
	default:
		// A schema field of a type this decoder does not know is a bug in
		// the schema, reported like any other error rather than a panic.
		d.errorf(n, key, "internal error: cannot decode into %s", t)
	}
}

// scalar returns the text of a scalar node, or reports what it got instead.
func (d *decoder) scalar(n *yaml.Node, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, key, "expected a single value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// sequence decodes a YAML list into the slice v; an empty list leaves v nil.
func (d *decoder) sequence(n *yaml.Node, key string, v reflect.Value, isPath bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "expected a list, got %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		v.SetZero()
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		ikey := fmt.Sprintf("%s[%d]", key, i)
		d.src.lines[ikey] = resolve(item).Line
		d.value(item, ikey, s.Index(i), isPath)
	}
	v.Set(s)
}

// stringMap decodes a YAML mapping with free-form keys into the map v.
func (d *decoder) stringMap(n *yaml.Node, key string, v reflect.Value, isPath bool) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "expected a mapping, got %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		return // an empty mapping leaves v nil, as an empty list does
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, key, "expected a key name, got %s", kindName(k))
			continue
		}
		ekey := joinKey(key, k.Value)
		if m.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key())).IsValid() {
			d.errorf(k, ekey, "set more than once")
			continue
		}
		d.src.lines[ekey] = k.Line
		elem := reflect.New(v.Type().Elem()).Elem()
		d.value(n.Content[i+1], ekey, elem, isPath)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
	}
	v.Set(m)
}
