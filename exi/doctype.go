package exi

import "strings"

// parseDoctype splits the text of a <!DOCTYPE ...> directive (as
// xml.Directive holds it, without "<!" and ">") into the DT event fields.
func parseDoctype(d string) (name, pub, sys, subset string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(d), "DOCTYPE")
	if !found {
		return "", "", "", "", false
	}
	rest = strings.TrimSpace(rest)
	i := strings.IndexAny(rest, " \t\r\n[")
	if i < 0 {
		return rest, "", "", "", true
	}
	name, rest = rest[:i], strings.TrimSpace(rest[i:])
	quoted := func() string {
		rest = strings.TrimSpace(rest)
		if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
			return ""
		}
		q := rest[0]
		j := strings.IndexByte(rest[1:], q)
		if j < 0 {
			v := rest[1:]
			rest = ""
			return v
		}
		v := rest[1 : 1+j]
		rest = rest[j+2:]
		return v
	}
	switch {
	case strings.HasPrefix(rest, "PUBLIC"):
		rest = rest[len("PUBLIC"):]
		pub = quoted()
		sys = quoted()
	case strings.HasPrefix(rest, "SYSTEM"):
		rest = rest[len("SYSTEM"):]
		sys = quoted()
	}
	rest = strings.TrimSpace(rest)
	if strings.HasPrefix(rest, "[") {
		if j := strings.LastIndexByte(rest, ']'); j > 0 {
			subset = rest[1:j]
		}
	}
	return name, pub, sys, subset, true
}

// reserializeSubset rewrites a DOCTYPE internal subset as the reference
// encoder reports it through its SAX declaration handler: element,
// attribute-list (one per attribute) and internal entity declarations,
// whitespace in content models and enumerations removed, each followed by
// a space. Comments, PIs, parameter-entity references, notations and
// external entity declarations are not reported.
func reserializeSubset(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "<!--"):
			j := strings.Index(s[i:], "-->")
			if j < 0 {
				return b.String()
			}
			i += j + 3
		case strings.HasPrefix(s[i:], "<?"):
			j := strings.Index(s[i:], "?>")
			if j < 0 {
				return b.String()
			}
			i += j + 2
		case strings.HasPrefix(s[i:], "<!"):
			j := declEnd(s[i:])
			if j < 0 {
				return b.String()
			}
			writeDecl(&b, s[i+2:i+j])
			i += j + 1
		default:
			i++
		}
	}
	return b.String()
}

// declEnd returns the index of the '>' closing the declaration at the
// start of s, skipping quoted strings, or -1.
func declEnd(s string) int {
	var q byte
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '>':
			return i
		}
	}
	return -1
}

// declTokens splits a declaration into whitespace-separated tokens,
// keeping quoted strings and parenthesized groups whole (groups without
// whitespace).
func declTokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '"' || c == '\'':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				j = len(s) - i - 1
			}
			out = append(out, s[i:min(len(s), i+j+2)])
			i += j + 2
		case c == '(':
			depth, j := 0, i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			// a group may carry an occurrence indicator: (a|b)*
			end := min(j+1, len(s))
			for end < len(s) && strings.IndexByte("*+?", s[end]) >= 0 {
				end++
			}
			out = append(out, strings.Join(strings.Fields(s[i:end]), ""))
			i = end
		default:
			j := i
			for j < len(s) && strings.IndexByte(" \t\r\n\"'(", s[j]) < 0 {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

func writeDecl(b *strings.Builder, d string) {
	t := declTokens(d)
	if len(t) < 2 {
		return
	}
	switch t[0] {
	case "ELEMENT":
		if len(t) >= 3 {
			b.WriteString("<!ELEMENT " + t[1] + " " + strings.Join(t[2:], "") + "> ")
		}
	case "ATTLIST":
		for k := 2; k+2 < len(t)+1 && k+1 < len(t); {
			name, typ := t[k], t[k+1]
			k += 2
			if typ == "NOTATION" && k < len(t) {
				typ += " " + t[k]
				k++
			}
			def := ""
			if k < len(t) {
				def = t[k]
				k++
				if def == "#FIXED" && k < len(t) {
					def += " " + t[k]
					k++
				}
			}
			if def != "" && def[0] == '\'' {
				def = `"` + def[1:len(def)-1] + `"`
			}
			b.WriteString("<!ATTLIST " + t[1] + " " + name + " " + typ)
			if def != "" {
				b.WriteString(" " + def)
			}
			b.WriteString("> ")
		}
	case "ENTITY":
		pe := ""
		k := 1
		if t[1] == "%" && len(t) > 2 {
			pe, k = "% ", 2
		}
		if k+1 >= len(t) {
			return
		}
		v := t[k+1]
		if v == "SYSTEM" || v == "PUBLIC" || len(v) < 2 {
			return // external entities are not reported
		}
		b.WriteString("<!ENTITY " + pe + t[k] + ` "` + v[1:len(v)-1] + `"> `)
	}
}
