package payload

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xiot/xiot/sensors"
)

// maxPathSteps bounds a JSON path.
const maxPathSteps = 32

// Path selects a value inside a JSON document: a sequence of object keys and
// array indexes. The zero Path selects the whole document.
type Path struct {
	steps []step
	text  string
}

// step is one object key or, when key is "" and isIndex, one array index.
type step struct {
	key     string
	index   int
	isIndex bool
}

// String returns the path as ParsePath reads it.
func (p Path) String() string { return p.text }

// ParsePath reads a path such as "a.b[0].c": keys separated by dots, each
// optionally followed by array indexes in brackets; "[2]" alone indexes the
// top-level array. A key containing '.', '[' or ']' can be written quoted
// inside brackets: `["a.b"]`. The empty string selects the whole document.
func ParsePath(s string) (Path, error) {
	p := Path{text: s}
	bad := func(why string) (Path, error) {
		return Path{}, fmt.Errorf("payload: json path %q: %s", clip(s), why)
	}
	rest := s
	expectKey := true
	for rest != "" {
		if len(p.steps) >= maxPathSteps {
			return bad(fmt.Sprintf("more than %d steps", maxPathSteps))
		}
		switch {
		case rest[0] == '[':
			end := strings.IndexByte(rest, ']')
			if strings.HasPrefix(rest, `["`) {
				q := strings.Index(rest[2:], `"]`)
				if q < 0 {
					return bad("unterminated quoted key")
				}
				p.steps = append(p.steps, step{key: rest[2 : 2+q]})
				rest = rest[2+q+2:]
			} else {
				if end < 0 {
					return bad("missing ]")
				}
				n, err := strconv.Atoi(rest[1:end])
				if err != nil || n < 0 || n > 1<<20 {
					return bad("index must be a number 0..1048576, not " + strconv.Quote(rest[1:end]))
				}
				p.steps = append(p.steps, step{index: n, isIndex: true})
				rest = rest[end+1:]
			}
			expectKey = false
		case rest[0] == '.':
			if expectKey {
				return bad("empty key")
			}
			rest = rest[1:]
			expectKey = true
			if rest == "" {
				return bad("ends with a dot")
			}
		default:
			if !expectKey {
				return bad("a key must follow a dot")
			}
			end := strings.IndexAny(rest, ".[]")
			if end < 0 {
				end = len(rest)
			}
			if rest[:end] == "" {
				return bad("empty key")
			}
			p.steps = append(p.steps, step{key: rest[:end]})
			rest = rest[end:]
			expectKey = false
		}
	}
	return p, nil
}

// JSON decodes a JSON document and returns the value at path as a field.
// Numbers become numeric values with the decimals they are written with
// (or int/long when kind asks), booleans boolean values, and strings are
// read like Plain payloads (so "23.4 °C" and "ON" work); null, objects and
// arrays are an error wrapping ErrType. The field has no name and no
// timestamp.
func JSON(p []byte, path Path, kind sensors.Kind, maxSize int) (sensors.Field, error) {
	if err := checkSize("json", p, maxSize); err != nil {
		return sensors.Field{}, err
	}
	doc, err := decodeJSON(p)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("payload: json: %w", err)
	}
	v, err := path.lookup(doc)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("payload: json: path %q: %w", path.text, err)
	}
	f, err := jsonValue(v, kind)
	if err != nil {
		return sensors.Field{}, fmt.Errorf("payload: json: path %q: %w", path.text, err)
	}
	return f, nil
}

// decodeJSON parses one JSON document with numbers kept as text.
func decodeJSON(p []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(p))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSyntax, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: data after the JSON value", ErrSyntax)
	}
	return doc, nil
}

// lookup walks the path through a decoded document.
func (p Path) lookup(doc any) (any, error) {
	cur := doc
	for i, s := range p.steps {
		switch c := cur.(type) {
		case map[string]any:
			if s.isIndex {
				return nil, fmt.Errorf("step %d: index [%d] on an object: %w", i+1, s.index, ErrNotFound)
			}
			v, ok := c[s.key]
			if !ok {
				return nil, fmt.Errorf("step %d: no key %q: %w", i+1, clip(s.key), ErrNotFound)
			}
			cur = v
		case []any:
			if !s.isIndex {
				return nil, fmt.Errorf("step %d: key %q on an array: %w", i+1, clip(s.key), ErrNotFound)
			}
			if s.index >= len(c) {
				return nil, fmt.Errorf("step %d: index %d beyond %d elements: %w", i+1, s.index, len(c), ErrNotFound)
			}
			cur = c[s.index]
		default:
			return nil, fmt.Errorf("step %d: %s has no members: %w", i+1, jsonKind(cur), ErrNotFound)
		}
	}
	return cur, nil
}

// jsonValue turns a decoded JSON scalar into a field value.
func jsonValue(v any, kind sensors.Kind) (sensors.Field, error) {
	switch x := v.(type) {
	case json.Number:
		switch kind {
		case sensors.KindNone, sensors.KindNumeric:
			f, dec, ok := parseNumber(string(x))
			if !ok {
				return sensors.Field{}, fmt.Errorf("%s is not a finite number: %w", clip(string(x)), ErrType)
			}
			return sensors.Field{Value: sensors.Numeric(f), Decimals: dec}, nil
		case sensors.KindInt, sensors.KindLong:
			return parseText(string(x), kind)
		case sensors.KindBoolean, sensors.KindString, sensors.KindEnum, sensors.KindDuration:
			// 1/0 for booleans, numbers as text for strings and enums.
			return parseText(string(x), kind)
		}
		return sensors.Field{}, fmt.Errorf("a number cannot be a %s value: %w", kind, ErrType)
	case bool:
		if kind != sensors.KindNone && kind != sensors.KindBoolean {
			return sensors.Field{}, fmt.Errorf("a boolean cannot be a %s value: %w", kind, ErrType)
		}
		return sensors.Field{Value: sensors.Boolean(x)}, nil
	case string:
		return parseText(strings.TrimSpace(x), kind)
	}
	return sensors.Field{}, fmt.Errorf("selects %s, not a value: %w", jsonKind(v), ErrType)
}

// jsonKind names the JSON type of a decoded value.
func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	}
	return "a number"
}
