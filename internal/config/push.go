package config

import "time"

// Push configures publishing readings on change to the device's PEP node
// (XEP-0163; node urn:xmpp:iot:sensordata, payload a XEP-0323 fields
// element), which the server fans out to subscribers.
type Push struct {
	// Enabled turns publishing on.
	Enabled bool `yaml:"enabled"`
	// Interval is how often the sensors are read to look for changes.
	Interval time.Duration `yaml:"interval"`
	// AccessModel is who may subscribe: presence (contacts; default),
	// roster, open or whitelist.
	AccessModel string `yaml:"access_model"`
	// Default is the rule of fields without one of their own.
	Default PushRule `yaml:"default"`
	// Fields are rules by "node/field" or by field name.
	Fields map[string]PushRule `yaml:"fields"`
}

// PushRule says when one field is published.
type PushRule struct {
	// Threshold is the smallest change of a number that is published; 0
	// publishes any change.
	Threshold float64 `yaml:"threshold"`
	// MinInterval is the shortest time between two publications.
	MinInterval time.Duration `yaml:"min_interval"`
	// MaxInterval publishes an unchanged value after this long; 0 never.
	MaxInterval time.Duration `yaml:"max_interval"`
}

func (c *Config) checkPush() []error {
	var errs []error
	add := func(key, format string, args ...any) { errs = append(errs, c.src.atf(key, format, args...)) }
	p := c.Push
	if p.Interval < 0 || (p.Enabled && p.Interval < 100*time.Millisecond) {
		add("push.interval", "must be at least 100ms, not %v", p.Interval)
	}
	switch p.AccessModel {
	case "presence", "roster", "open", "whitelist":
	default:
		add("push.access_model", "must be presence, roster, open or whitelist, not %q", p.AccessModel)
	}
	check := func(key string, r PushRule) {
		if r.Threshold < 0 {
			add(key+".threshold", "must not be negative, not %v", r.Threshold)
		}
		if r.MinInterval < 0 || r.MaxInterval < 0 {
			add(key, "intervals must not be negative")
		}
		if r.MaxInterval > 0 && r.MaxInterval < r.MinInterval {
			add(key+".max_interval", "must not be less than min_interval (%v), not %v", r.MinInterval, r.MaxInterval)
		}
	}
	check("push.default", p.Default)
	for k, r := range p.Fields {
		check("push.fields."+k, r)
	}
	return errs
}
