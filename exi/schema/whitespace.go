package schema

import "strings"

// NormalizeSpace applies a whiteSpace facet to a lexical value.
func NormalizeSpace(s string, ws WhiteSpace) string {
	switch ws {
	case WSReplace:
		if !strings.ContainsAny(s, "\t\n\r") {
			return s
		}
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	case WSCollapse:
		if collapsed(s) {
			return s
		}
		return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '\n' || r == '\r'
		}), " ")
	}
	return s
}

// collapsed reports whether s is already whitespace-collapsed: no tab, CR
// or LF, no leading, trailing or double space.
func collapsed(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\t', '\n', '\r':
			return false
		case ' ':
			if i == 0 || i == len(s)-1 || s[i-1] == ' ' {
				return false
			}
		}
	}
	return true
}
