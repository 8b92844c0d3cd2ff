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
