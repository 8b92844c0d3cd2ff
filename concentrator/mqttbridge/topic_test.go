package mqttbridge

import "testing"

func TestPattern(t *testing.T) {
	tests := []struct {
		pattern, filter, topic string
		device, field          string
		ok                     bool
	}{
		{"tele/{device}/SENSOR", "tele/+/SENSOR", "tele/plug1/SENSOR", "plug1", "", true},
		{"tele/{device}/SENSOR", "tele/+/SENSOR", "tele/plug1/STATE", "", "", false},
		{"tele/{device}/SENSOR", "tele/+/SENSOR", "tele/plug1/SENSOR/x", "", "", false},
		{"tele/{device}/SENSOR", "tele/+/SENSOR", "tele//SENSOR", "", "", false},
		{"s/{device}/{field}", "s/+/+", "s/d1/temp", "d1", "temp", true},
		{"s/+/x", "s/+/x", "s/a/x", "", "", true},
		{"s/#", "s/#", "s", "", "", true},
		{"s/#", "s/#", "s/a/b/c", "", "", true},
		{"s/{device}/#", "s/+/#", "s/d/a/b", "d", "", true},
		{"#", "#", "$SYS/broker", "", "", false},
		{"{device}/x", "+/x", "$SYS/x", "", "", false},
		{"a/b", "a/b", "a/b", "", "", true},
		{"a/b", "a/b", "a", "", "", false},
		{"a/b", "a/b", "a/b/", "", "", false},
	}
	for _, tt := range tests {
		p, err := compilePattern(tt.pattern)
		if err != nil {
			t.Fatalf("%s: %v", tt.pattern, err)
		}
		if p.filter != tt.filter {
			t.Errorf("%s: filter %q, want %q", tt.pattern, p.filter, tt.filter)
		}
		d, f, ok := p.match(tt.topic)
		if d != tt.device || f != tt.field || ok != tt.ok {
			t.Errorf("%s on %q = %q %q %v, want %q %q %v", tt.pattern, tt.topic, d, f, ok, tt.device, tt.field, tt.ok)
		}
	}
	for _, bad := range []string{"", "a/#/b", "a/{device}/{device}", "a/x{field}"} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("compilePattern(%q) accepted a bad pattern", bad)
		}
	}
}

func FuzzPattern(f *testing.F) {
	f.Add("tele/{device}/SENSOR", "tele/plug/SENSOR")
	f.Add("s/{device}/{field}/#", "s/a/b/c/d")
	f.Add("+/#", "$SYS/x")
	f.Fuzz(func(t *testing.T, pat, topic string) {
		p, err := compilePattern(pat)
		if err != nil {
			return
		}
		d, fl, ok := p.match(topic)
		if !ok && (d != "" || fl != "") {
			t.Fatalf("captures %q %q without a match", d, fl)
		}
	})
}
