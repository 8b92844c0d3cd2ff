package registry

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// claimPrefix starts the text of a claim QR code (XEP-0347 §3.8).
const claimPrefix = "IoTDisco"

// ClaimURI returns the text an owner needs to claim a thing, as XEP-0347
// §3.8 encodes it for QR codes: "IoTDisco" then, per tag, ";NAME:value"
// (";#NAME:value" for numbers), with ";" and "\" in values escaped by "\",
// and a closing ";" when the last value ends in white space.
func ClaimURI(tags []Tag) string {
	var b strings.Builder
	b.WriteString(claimPrefix)
	for _, t := range tags {
		b.WriteByte(';')
		if t.Numeric {
			b.WriteByte('#')
		}
		b.WriteString(t.Name)
		b.WriteByte(':')
		v := t.Value
		if t.Numeric {
			v = strconv.FormatFloat(t.Num, 'g', -1, 64)
		}
		for _, r := range v {
			if r == ';' || r == '\\' {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
	}
	if r, _ := utf8.DecodeLastRuneInString(b.String()); unicode.IsSpace(r) {
		// A value ending in white space keeps it: readers (ours too)
		// trim the text of a QR code, but not past a closing ';'.
		b.WriteByte(';')
	}
	return b.String()
}

// ParseClaimURI decodes the text of a claim QR code into tags, checked as
// a registration's are (names, lengths, count, numbers) and sorted by name.
func ParseClaimURI(s string) ([]Tag, error) {
	s = strings.TrimSpace(s)
	if len(s) < len(claimPrefix) || !strings.EqualFold(s[:len(claimPrefix)], claimPrefix) {
		return nil, fmt.Errorf("%w: claim text does not start with %s", ErrMalformed, claimPrefix)
	}
	s = strings.TrimPrefix(s[len(claimPrefix):], ":") // "iotdisco:" URI form
	var tags []Tag
	for s != "" {
		if s[0] != ';' {
			return nil, fmt.Errorf("%w: claim text: want ';' before a tag", ErrMalformed)
		}
		s = s[1:]
		if s == "" {
			break // a trailing ';'
		}
		numeric := s[0] == '#'
		if numeric {
			s = s[1:]
		}
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return nil, fmt.Errorf("%w: claim text: tag without ':'", ErrMalformed)
		}
		name := s[:i]
		s = s[i+1:]
		var v strings.Builder
		for s != "" && s[0] != ';' {
			if s[0] == '\\' && len(s) > 1 {
				s = s[1:]
			}
			v.WriteByte(s[0])
			s = s[1:]
		}
		if len(tags) == MaxTags {
			return nil, fmt.Errorf("%w: more than %d tags", ErrMalformed, MaxTags)
		}
		t, err := makeTag(name, v.String(), numeric)
		if err != nil {
			return nil, err
		}
		for _, g := range tags {
			if g.Name == t.Name {
				return nil, fmt.Errorf("%w: tag %s given twice", ErrMalformed, t.Name)
			}
		}
		tags = append(tags, t)
	}
	if len(tags) == 0 {
		return nil, fmt.Errorf("%w: claim text without tags", ErrMalformed)
	}
	sortTags(tags)
	return tags, nil
}

// makeTag checks a tag as parseTags does.
func makeTag(name, value string, numeric bool) (Tag, error) {
	kind := "str"
	if numeric {
		kind = "num"
	}
	e := xmppTag(kind, name, value)
	n, err := tagName(e)
	if err != nil {
		return Tag{}, err
	}
	t := Tag{Name: n, Numeric: numeric}
	if numeric {
		t.Num, err = parseNum(e, "value")
	} else {
		t.Value, err = strValue(e, "value")
	}
	return t, err
}
