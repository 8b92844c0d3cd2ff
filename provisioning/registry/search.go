package registry

import "strings"

// Matches reports whether t satisfies every operator (XEP-0347 §3.13: the
// operators are ANDed). A missing tag, a tag of the other type, and any
// operator on KEY never match.
func Matches(t Thing, ops []Operator) bool {
	for _, op := range ops {
		if !matches(t, op) {
			return false
		}
	}
	return len(ops) > 0
}

func matches(t Thing, op Operator) bool {
	if op.Name == KeyTag {
		return false
	}
	tag, ok := t.Tag(op.Name)
	if !ok || tag.Numeric != strings.HasPrefix(op.Op, "num") {
		return false
	}
	if tag.Numeric {
		v := tag.Num
		switch op.Op {
		case "numEq":
			return v == op.Num
		case "numNEq":
			return v != op.Num
		case "numGt":
			return v > op.Num
		case "numGtEq":
			return v >= op.Num
		case "numLt":
			return v < op.Num
		case "numLtEq":
			return v <= op.Num
		case "numRange":
			return inRange(cmpNum(v, op.MinNum), cmpNum(v, op.MaxNum), op)
		case "numNRange":
			return !inRange(cmpNum(v, op.MinNum), cmpNum(v, op.MaxNum), op)
		}
		return false
	}
	v := tag.Value
	switch op.Op {
	case "strEq":
		return v == op.Value
	case "strNEq":
		return v != op.Value
	case "strGt":
		return v > op.Value
	case "strGtEq":
		return v >= op.Value
	case "strLt":
		return v < op.Value
	case "strLtEq":
		return v <= op.Value
	case "strRange":
		return inRange(strings.Compare(v, op.Min), strings.Compare(v, op.Max), op)
	case "strNRange":
		return !inRange(strings.Compare(v, op.Min), strings.Compare(v, op.Max), op)
	case "strMask":
		return maskMatch(v, op.Value, op.Wildcard)
	}
	return false
}

func cmpNum(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// inRange reports whether a value comparing cmin to the minimum and cmax
// to the maximum lies in the range, endpoints included as op says.
func inRange(cmin, cmax int, op Operator) bool {
	lowOK := cmin > 0 || (cmin == 0 && op.MinIncluded)
	highOK := cmax < 0 || (cmax == 0 && op.MaxIncluded)
	return lowOK && highOK
}

// maskMatch reports whether v matches mask, in which every occurrence of
// wildcard stands for any sequence of characters (SQL LIKE with one
// wildcard). Greedy matching of the literal parts in order is exact for a
// single kind of wildcard and takes time linear in len(v) per part: no
// pattern can make it backtrack.
func maskMatch(v, mask, wildcard string) bool {
	parts := strings.Split(mask, wildcard)
	if len(parts) == 1 {
		return v == mask
	}
	if !strings.HasPrefix(v, parts[0]) {
		return false
	}
	v = v[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(v, p)
		if i < 0 {
			return false
		}
		v = v[i+len(p):]
	}
	return len(v) >= len(last) && strings.HasSuffix(v, last)
}
