package config

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// Sentinel errors, wrapped by the errors Load, Preflight, Password and
// ComponentSecret return; test them with errors.Is.
var (
	// ErrUnknownKey reports a key that is not part of the schema.
	ErrUnknownKey = errors.New("unknown key")
	// ErrUnsafePermissions reports a secret file that group or others can
	// read, or that is not a regular file.
	ErrUnsafePermissions = errors.New("unsafe secret file")
	// ErrMissing reports a required setting that is not set.
	ErrMissing = errors.New("required setting missing")
)

// Error is one problem in a configuration, located by file and line or by
// the command-line flag that set the value. Load and ApplyFlags return
// several of them joined with errors.Join; find them with errors.As.
type Error struct {
	File string // configuration file, "" when the value did not come from one
	Line int    // 1-based line in File, 0 when unknown
	Flag string // flag that set the value, e.g. "--jid", or ""
	Key  string // dotted key path, e.g. "account.owners[1]", or ""
	Err  error  // what is wrong
}

// Error formats the problem as "file:line: key: message" (or
// "flag --jid: key: message").
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Flag != "":
		b.WriteString("flag " + e.Flag + ": ")
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// sources remembers where each key of a Config came from.
type sources struct {
	file  string            // configuration file, "" for Default
	lines map[string]int    // key path → line of the key
	flags map[string]string // key path → flag that overrode it
}

// at returns an *Error for key located from its recorded source.
func (s *sources) at(key string, err error) *Error {
	e := &Error{File: s.file, Key: key, Err: err}
	if f, ok := s.flags[key]; ok {
		e.Flag = f
		return e
	}
	// A problem inside a value that has no line of its own (a default
	// inside a section that is present) points at the closest parent.
	for k := key; k != ""; k = parentKey(k) {
		if l, ok := s.lines[k]; ok {
			e.Line = l
			break
		}
	}
	return e
}

// atf is at with a formatted message.
func (s *sources) atf(key, format string, args ...any) *Error {
	return s.at(key, fmt.Errorf(format, args...))
}

// setFlag records that flag overrode key. The map is copied first because
// a shallow copy of a Config shares it.
func (s *sources) setFlag(key, flag string) {
	s.flags = maps.Clone(s.flags)
	if s.flags == nil {
		s.flags = make(map[string]string)
	}
	s.flags[key] = flag
}

// parentKey returns "a.b" for "a.b.c" and "a.b" for "a.b[3]", "" at the top.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// suggest returns ` (did you mean "x"?)` when a candidate is within a
// small edit distance of word, else "".
func suggest(word string, candidates []string) string {
	limit := 2
	switch {
	case len(word) <= 3:
		limit = 1
	case len(word) >= 10:
		limit = 3
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(word, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the optimal-string-alignment distance between a and b
// (insertions, deletions, substitutions and adjacent transpositions), in
// bytes; configuration keys are ASCII.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
