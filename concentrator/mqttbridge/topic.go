package mqttbridge

import (
	"fmt"
	"strings"
)

// Capture levels of a topic pattern.
const (
	captureDevice = "{device}"
	captureField  = "{field}"
)

// pattern is a compiled topic pattern: an MQTT filter whose levels may also
// be {device} or {field}, which match one level like + and capture it.
type pattern struct {
	levels   []string
	filter   string // the MQTT subscription filter, captures as +
	deviceAt int    // level index of {device}, or -1
	fieldAt  int    // level index of {field}, or -1
}

// compilePattern reads a pattern; config validation has already checked
// it, so errors here are only for callers that skip validation.
func compilePattern(s string) (pattern, error) {
	if s == "" {
		return pattern{}, fmt.Errorf("empty topic pattern")
	}
	p := pattern{levels: strings.Split(s, "/"), deviceAt: -1, fieldAt: -1}
	filter := make([]string, len(p.levels))
	for i, l := range p.levels {
		filter[i] = l
		switch l {
		case captureDevice:
			if p.deviceAt >= 0 {
				return pattern{}, fmt.Errorf("topic pattern %q: {device} twice", s)
			}
			p.deviceAt, filter[i] = i, "+"
		case captureField:
			if p.fieldAt >= 0 {
				return pattern{}, fmt.Errorf("topic pattern %q: {field} twice", s)
			}
			p.fieldAt, filter[i] = i, "+"
		case "#":
			if i != len(p.levels)-1 {
				return pattern{}, fmt.Errorf("topic pattern %q: # must be last", s)
			}
		case "+":
		default:
			if strings.ContainsAny(l, "+#{}") {
				return pattern{}, fmt.Errorf("topic pattern %q: bad level %q", s, l)
			}
		}
	}
	p.filter = strings.Join(filter, "/")
	return p, nil
}

// match reports whether topic matches, with the captured device id and
// field name ("" when not captured). Like MQTT filters, a wildcard in the
// first level does not match topics starting with '$'.
func (p pattern) match(topic string) (device, field string, ok bool) {
	if strings.HasPrefix(topic, "$") && len(p.levels) > 0 {
		if l := p.levels[0]; l == "+" || l == "#" || l == captureDevice || l == captureField {
			return "", "", false
		}
	}
	rest := topic
	for i, l := range p.levels {
		if l == "#" {
			return device, field, true
		}
		var lev string
		last := false
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			lev, rest = rest[:j], rest[j+1:]
		} else {
			lev, last = rest, true
		}
		switch {
		case i == p.deviceAt:
			if lev == "" {
				return "", "", false
			}
			device = lev
		case i == p.fieldAt:
			if lev == "" {
				return "", "", false
			}
			field = lev
		case l == "+":
		case l != lev:
			return "", "", false
		}
		if last {
			// "a/#" also matches "a"; otherwise every level must be used.
			if i == len(p.levels)-1 || (i == len(p.levels)-2 && p.levels[i+1] == "#") {
				return device, field, true
			}
			return "", "", false
		}
	}
	return "", "", false
}

// expand fills {device}, {node} and {field} into a topic or payload
// template.
func expand(tmpl, device, node, field string) string {
	if !strings.Contains(tmpl, "{") {
		return tmpl
	}
	return strings.NewReplacer("{device}", device, "{node}", node, "{field}", field).Replace(tmpl)
}

// lastLevel returns the last level of a topic.
func lastLevel(topic string) string {
	return topic[strings.LastIndexByte(topic, '/')+1:]
}
