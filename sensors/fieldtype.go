package sensors

import (
	"fmt"
	"strings"
)

// ReadoutType is a set of XEP-0323 field types (the spec's "field types":
// momentary, peak, status, …). A field carries the intersection of its types
// (a field marked status and historicalDay is a historical status value); a
// request carries the union of the types it wants.
type ReadoutType uint16

// The field types of XEP-0323 §3.4, in the order the schema lists them.
const (
	Momentary ReadoutType = 1 << iota
	Peak
	Status
	Computed
	Identity
	HistoricalSecond
	HistoricalMinute
	HistoricalHour
	HistoricalDay
	HistoricalWeek
	HistoricalMonth
	HistoricalQuarter
	HistoricalYear
	HistoricalOther

	// Historical is every historical period; it is what the request attribute
	// historical='true' asks for.
	Historical = HistoricalSecond | HistoricalMinute | HistoricalHour | HistoricalDay |
		HistoricalWeek | HistoricalMonth | HistoricalQuarter | HistoricalYear | HistoricalOther

	// AllTypes is every field type; it is what the request attribute
	// all='true' asks for.
	AllTypes = Momentary | Peak | Status | Computed | Identity | Historical
)

// readoutTypeNames are the XML attribute names, indexed by bit position.
var readoutTypeNames = [...]string{
	"momentary", "peak", "status", "computed", "identity",
	"historicalSecond", "historicalMinute", "historicalHour", "historicalDay",
	"historicalWeek", "historicalMonth", "historicalQuarter", "historicalYear",
	"historicalOther",
}

// Names returns the XEP-0323 attribute name of every type in the set, in
// schema order, e.g. ["momentary", "status"]. Unknown bits are ignored.
func (t ReadoutType) Names() []string {
	var names []string
	for i, n := range readoutTypeNames {
		if t&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String returns the attribute names joined by commas ("momentary,status"),
// or "none" for the empty set. ParseReadoutType reads it back.
func (t ReadoutType) String() string {
	if t&AllTypes == 0 {
		return "none"
	}
	return strings.Join(t.Names(), ",")
}

// Has reports whether every type in u is also in t.
func (t ReadoutType) Has(u ReadoutType) bool { return t&u == u }

// Intersects reports whether t and u share at least one type: a field of
// types t answers a request for types u exactly when they intersect.
func (t ReadoutType) Intersects(u ReadoutType) bool { return t&u != 0 }

// ParseReadoutType parses one name or a list of names separated by commas or
// spaces. Names are the XEP-0323 attribute names, matched exactly, plus the
// request shorthands "historical" and "all" and "none" for the empty set.
func ParseReadoutType(s string) (ReadoutType, error) {
	var t ReadoutType
	for _, name := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		bit, ok := readoutTypeBit(name)
		if !ok {
			return 0, fmt.Errorf("sensors: unknown field type %q", name)
		}
		t |= bit
	}
	return t, nil
}

func readoutTypeBit(name string) (ReadoutType, bool) {
	switch name {
	case "historical":
		return Historical, true
	case "all":
		return AllTypes, true
	case "none":
		return 0, true
	}
	for i, n := range readoutTypeNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}
