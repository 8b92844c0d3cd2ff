package thing

import (
	"slices"
	"testing"

	"github.com/xiot/xiot/provisioning/registry"
)

func TestTagDiff(t *testing.T) {
	s := func(n, v string) registry.Tag { return registry.Tag{Name: n, Value: v} }
	num := func(n string, v float64) registry.Tag { return registry.Tag{Name: n, Num: v, Numeric: true} }
	for _, tc := range []struct {
		name           string
		old, cur, want []registry.Tag
	}{
		{"same", []registry.Tag{s("A", "1")}, []registry.Tag{s("A", "1")}, nil},
		{"changed value", []registry.Tag{s("A", "1")}, []registry.Tag{s("A", "2")}, []registry.Tag{s("A", "2")}},
		{"new tag", nil, []registry.Tag{s("B", "x")}, []registry.Tag{s("B", "x")}},
		{"removed tag: empty value", []registry.Tag{s("A", "1"), s("B", "2")}, []registry.Tag{s("B", "2")}, []registry.Tag{s("A", "")}},
		{"removed numeric tag: empty string", []registry.Tag{num("V", 1)}, nil, []registry.Tag{s("V", "")}},
		{"string to number", []registry.Tag{s("V", "1")}, []registry.Tag{num("V", 1)}, []registry.Tag{num("V", 1)}},
		{"sorted", []registry.Tag{s("Z", "1")}, []registry.Tag{s("M", "1"), s("A", "1")}, []registry.Tag{s("A", "1"), s("M", "1"), s("Z", "")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tagDiff(tc.old, sortedTags(tc.cur)); !slices.Equal(got, tc.want) {
				t.Errorf("tagDiff = %v, want %v", got, tc.want)
			}
		})
	}
	if got := sortedTags([]registry.Tag{s("sn", "1"), s("MAN", "x")}); !slices.Equal(got, []registry.Tag{s("MAN", "x"), s("SN", "1")}) {
		t.Errorf("sortedTags = %v", got)
	}
}
