package schema

import (
	"sort"
	"unicode/utf8"
)

// maxCharSet: a restricted character set of 255 characters or more is not
// used (§7.1.10.1).
const maxCharSet = 255

// restrictedCharSet derives the restricted character set of §7.1.10.1
// from the pattern facets of a type: patterns of one derivation step are
// alternatives (union), steps restrict each other (intersection). It
// returns nil when any pattern admits an open-ended set of characters.
func restrictedCharSet(steps [][]string) []rune {
	var result map[rune]bool
	for _, step := range steps {
		u := map[rune]bool{}
		for _, p := range step {
			s, ok := patternChars(p)
			if !ok {
				return nil
			}
			for r := range s {
				u[r] = true
			}
		}
		if result == nil {
			result = u
			continue
		}
		for r := range result {
			if !u[r] {
				delete(result, r)
			}
		}
	}
	if result == nil || len(result) >= maxCharSet {
		return nil
	}
	out := make([]rune, 0, len(result))
	for r := range result {
		if r > 0xFFFF {
			return nil
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// patternChars collects the characters an XML Schema regular expression
// can match; ok is false for wildcards, negated classes and multi-char
// escapes other than \s.
func patternChars(p string) (set map[rune]bool, ok bool) {
	set = map[rune]bool{}
	rs := []rune(p)
	if !utf8.ValidString(p) {
		return nil, false
	}
	i := 0
	for i < len(rs) {
		r := rs[i]
		switch r {
		case '.':
			return nil, false
		case '(', ')', '|', '?', '*', '+':
			i++
		case '{':
			for i < len(rs) && rs[i] != '}' {
				i++
			}
			i++
		case '\\':
			cs, n, ok := escape(rs, i)
			if !ok {
				return nil, false
			}
			for _, c := range cs {
				set[c] = true
			}
			i += n
		case '[':
			cs, n, ok := charClass(rs, i)
			if !ok {
				return nil, false
			}
			for c := range cs {
				set[c] = true
			}
			i += n
		default:
			set[r] = true
			i++
		}
		if len(set) >= 4*maxCharSet {
			return nil, false
		}
	}
	return set, true
}

// escape reads a backslash escape at rs[i]; it returns its characters and
// length.
func escape(rs []rune, i int) ([]rune, int, bool) {
	if i+1 >= len(rs) {
		return nil, 0, false
	}
	switch c := rs[i+1]; c {
	case 'n':
		return []rune{'\n'}, 2, true
	case 'r':
		return []rune{'\r'}, 2, true
	case 't':
		return []rune{'\t'}, 2, true
	case 's':
		return []rune{' ', '\t', '\n', '\r'}, 2, true
	case '\\', '|', '.', '?', '*', '+', '(', ')', '{', '}', '-', '[', ']', '^', '$':
		return []rune{c}, 2, true
	default: // \d \w \i \c \p{..} \S ... are open-ended
		return nil, 0, false
	}
}

// charClass reads a character class expression at rs[i] ('[').
func charClass(rs []rune, i int) (map[rune]bool, int, bool) {
	start := i
	i++
	if i < len(rs) && rs[i] == '^' {
		return nil, 0, false
	}
	set := map[rune]bool{}
	var prev rune = -1
	for i < len(rs) {
		r := rs[i]
		switch {
		case r == ']':
			return set, i - start + 1, true
		case r == '-' && i+1 < len(rs) && rs[i+1] == '[':
			sub, n, ok := charClass(rs, i+1)
			if !ok {
				return nil, 0, false
			}
			for c := range sub {
				delete(set, c)
			}
			i += 1 + n
			if i < len(rs) && rs[i] == ']' {
				return set, i - start + 1, true
			}
			return nil, 0, false
		case r == '-' && prev >= 0 && i+1 < len(rs) && rs[i+1] != ']':
			hi := rs[i+1]
			n := 2
			if hi == '\\' {
				cs, m, ok := escape(rs, i+1)
				if !ok || len(cs) != 1 {
					return nil, 0, false
				}
				hi, n = cs[0], 1+m
			}
			if hi < prev || hi-prev > 4*maxCharSet {
				return nil, 0, false
			}
			for c := prev; c <= hi; c++ {
				set[c] = true
			}
			prev = -1
			i += n
		case r == '\\':
			cs, n, ok := escape(rs, i)
			if !ok {
				return nil, 0, false
			}
			for _, c := range cs {
				set[c] = true
			}
			prev = -1
			if len(cs) == 1 {
				prev = cs[0]
			}
			i += n
		default:
			set[r] = true
			prev = r
			i++
		}
	}
	return nil, 0, false
}
