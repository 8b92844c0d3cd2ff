package registry

import (
	"reflect"
	"testing"
)

func TestRuleFor(t *testing.T) {
	rules := []Rule{
		{Requester: "example.org", Read: Deny},
		{Requester: "token:T1", Read: Allow},
		{Requester: "alice@example.org", Read: Allow, Fields: []string{"a"}},
		{Requester: "token:T2", Control: Allow},
	}
	tests := []struct {
		who    string
		tokens []string
		want   string // requester of the rule found, "" for none
	}{
		{"alice@example.org", []string{"T1"}, "alice@example.org"},  // own rule first
		{"bob@example.org", []string{"T9", "T2", "T1"}, "token:T2"}, // first token with a rule
		{"bob@example.org", nil, "example.org"},                     // then the domain
		{"bob@example.net", nil, ""},
		{"example.org", nil, "example.org"},
	}
	for _, tt := range tests {
		r, ok := ruleFor(rules, tt.who, tt.tokens)
		if ok != (tt.want != "") || r.Requester != tt.want {
			t.Errorf("ruleFor(%s, %v) = %q, %v; want %q", tt.who, tt.tokens, r.Requester, ok, tt.want)
		}
	}
}

func TestRestrict(t *testing.T) {
	tests := []struct {
		name               string
		requested, allowed []string
		want               verdict
	}{
		{"no restriction", []string{"a"}, nil, verdict{ok: true}},
		{"all asked, some allowed", nil, []string{"a", "b"}, verdict{ok: true, names: []string{"a", "b"}}},
		{"intersection", []string{"a", "c"}, []string{"a", "b"}, verdict{ok: true, names: []string{"a"}}},
		{"nothing left", []string{"c"}, []string{"a"}, verdict{}},
	}
	for _, tt := range tests {
		if got := restrict(tt.requested, tt.allowed); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRequesterOf(t *testing.T) {
	for in, want := range map[string]string{
		"Alice@Example.org": "alice@example.org",
		"example.org":       "example.org",
		"token:ABC":         "token:ABC",
		"token:":            "",
		"token:a b":         "",
		"a@b/c":             "",
	} {
		got, err := requesterOf(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("requesterOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
