//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xiot/xiot/provisioning/registry"
)

const thingsUsage = `Usage: xiot things [flags] [TERM...]

Without terms, lists the things the account of --config owns in the thing
registry (XEP-0347), private and removed ones included. With terms,
searches the public claimed things matching all of them. A term is
TAG OP VALUE, OP one of = != > >= < <= ~ (~ is a mask, * any characters);
a value that reads as a number compares numerically, unless in double
quotes (SN="0123"). Quote terms for the shell.

Examples:
  xiot things --config owner.yaml --registry registry.example.org
  xiot things --config owner.yaml 'MODEL=xiot' 'V>=1.2' 'SN~3948*'
`

// runThings implements "xiot things".
func runThings(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("things", thingsUsage)
	var o ownerFlags
	o.register(fs, false)
	offset := fs.Int("offset", 0, "skip this many results (search)")
	maxCount := fs.Int("max", 0, "return at most this many results (search; 0: the registry's default)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	var ops []registry.Operator
	for _, a := range fs.Args() {
		op, err := parseTerm(a)
		if err != nil {
			return usagef(fs, "%v", err)
		}
		ops = append(ops, op)
	}
	if *offset < 0 || *maxCount < 0 {
		return usagef(fs, "--offset and --max must not be negative")
	}
	lctx, cancel := context.WithTimeout(ctx, o.acct.timeout)
	defer cancel()
	owner, closeFn, err := o.connect(lctx, stderr)
	if err != nil {
		return err
	}
	defer closeFn()
	var things []registry.Thing
	more := false
	if len(ops) == 0 {
		things, err = owner.Things(lctx)
	} else {
		things, more, err = owner.Search(lctx, ops, *offset, *maxCount)
	}
	if err != nil {
		return explain(err)
	}
	for _, t := range things {
		if _, err := fmt.Fprintln(stdout, formatThing(t)); err != nil {
			return err
		}
	}
	if more {
		_, err = fmt.Fprintf(stdout, "(more: --offset %d)\n", *offset+len(things))
	}
	return err
}

// parseTerm reads TAG OP VALUE.
func parseTerm(s string) (registry.Operator, error) {
	i := strings.IndexAny(s, "=!<>~")
	if i <= 0 {
		return registry.Operator{}, fmt.Errorf("search term %q: want TAG OP VALUE, OP one of = != > >= < <= ~", s)
	}
	name, rest := s[:i], s[i:]
	var op string
	for _, o := range []string{">=", "<=", "!=", "=", ">", "<", "~"} {
		if strings.HasPrefix(rest, o) {
			op, rest = o, rest[len(o):]
			break
		}
	}
	if op == "" {
		return registry.Operator{}, fmt.Errorf("search term %q: unknown operator", s)
	}
	name = strings.ToUpper(strings.TrimSpace(name))
	if op == "~" {
		return registry.Operator{Op: "strMask", Name: name, Value: rest, Wildcard: "*"}, nil
	}
	if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' { // a string however it reads
		return registry.Operator{Op: "str" + map[string]string{"=": "Eq", "!=": "NEq", ">": "Gt", ">=": "GtEq", "<": "Lt", "<=": "LtEq"}[op], Name: name, Value: rest[1 : len(rest)-1]}, nil
	}
	names := map[string]string{"=": "Eq", "!=": "NEq", ">": "Gt", ">=": "GtEq", "<": "Lt", "<=": "LtEq"}
	if f, err := strconv.ParseFloat(rest, 64); err == nil {
		return registry.Operator{Op: "num" + names[op], Name: name, Num: f}, nil
	}
	return registry.Operator{Op: "str" + names[op], Name: name, Value: rest}, nil
}
