package schema

import "strings"

// NormalizeSpace applies a whiteSpace facet to a lexical value.
func NormalizeSpace(s string, ws WhiteSpace) string {
	switch ws {
	case WSReplace:
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	case WSCollapse:
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\n' || r == '\r'
		}), " ")
	}
	return s
}
