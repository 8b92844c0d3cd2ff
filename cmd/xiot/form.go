package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/xiot/xiot/control/iotcontrol"
)

const formUsage = `Usage: xiot form [flags] JID

Fetch the XEP-0325 control form of the device at JID and print its
parameters as a list: name, type, allowed values or range, current value
and description, grouped by page. With --node, the form of those nodes
(only the parameters they have in common). --json prints the form as one
JSON object.

Examples:
  xiot form --config client.yaml device@example.org/xiot
  xiot form device@example.org/xiot --node thermostat --json
`

// runForm implements "xiot form".
func runForm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("form", formUsage)
	var acct accountFlags
	acct.register(fs)
	var nodes controlNodes
	fs.Var(&nodes, "node", "node id (repeatable; default the device itself)")
	asJSON := fs.Bool("json", false, "print JSON instead of a list")
	pos, err := parseControlArgs(fs, args, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef(fs, "want exactly one device JID, got %d arguments", len(pos))
	}
	ctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	form, err := iotcontrol.FetchForm(ctx, s, pos[0], nodes.refs()...)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeFormJSON(stdout, form)
	}
	writeFormList(stdout, form)
	return nil
}

// formFieldJSON is the JSON form of one field.
type formFieldJSON struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Label    string   `json:"label,omitempty"`
	Desc     string   `json:"description,omitempty"`
	Value    string   `json:"value,omitempty"`
	Min      string   `json:"min,omitempty"`
	Max      string   `json:"max,omitempty"`
	Options  []string `json:"options,omitempty"`
	Pattern  string   `json:"pattern,omitempty"`
	Page     string   `json:"page,omitempty"`
	Group    string   `json:"group,omitempty"`
	Datatype string   `json:"datatype,omitempty"`
}

func writeFormJSON(w io.Writer, f iotcontrol.Form) error {
	out := struct {
		Title      string          `json:"title"`
		Parameters []formFieldJSON `json:"parameters"`
	}{Title: f.Title, Parameters: []formFieldJSON{}}
	for _, fd := range f.Fields {
		out.Parameters = append(out.Parameters, formFieldJSON{
			Name: fd.Var, Type: paramTypeName(fd), Label: fd.Label, Desc: fd.Desc, Value: firstValue(fd.Values),
			Min: fd.Min, Max: fd.Max, Options: fd.Options, Pattern: fd.Regex, Page: fd.Page, Group: fd.Group, Datatype: fd.Datatype,
		})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeFormList(w io.Writer, f iotcontrol.Form) {
	fmt.Fprintln(w, f.Title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	page := "\x00"
	for _, fd := range f.Fields {
		if fd.Page != page {
			page = fd.Page
			if page != "" {
				fmt.Fprintf(tw, "\n[%s]\t\t\t\t\n", page)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t= %s\t%s\n", fd.Var, paramTypeName(fd), formAllowed(fd), firstValue(fd.Values), formFieldDesc(fd))
	}
	tw.Flush()
}

// paramTypeName is the XEP-0325 type of a field, or its form field type.
func paramTypeName(fd iotcontrol.Field) string {
	if t, ok := fd.ParamType(); ok {
		return t.String()
	}
	return fd.Type
}

// formAllowed describes the values a field accepts.
func formAllowed(fd iotcontrol.Field) string {
	switch {
	case len(fd.Options) > 0:
		return "{" + strings.Join(fd.Options, ", ") + "}"
	case fd.Min != "" || fd.Max != "":
		lo, hi := fd.Min, fd.Max
		if lo == "" {
			lo = "…"
		}
		if hi == "" {
			hi = "…"
		}
		return "[" + lo + " .. " + hi + "]"
	case fd.Regex != "":
		return "matching " + fd.Regex
	}
	return ""
}

func formFieldDesc(fd iotcontrol.Field) string {
	parts := []string{}
	if fd.Label != "" && fd.Label != fd.Var {
		parts = append(parts, fd.Label)
	}
	if fd.Desc != "" {
		parts = append(parts, fd.Desc)
	}
	if fd.Group != "" {
		parts = append(parts, "group "+fd.Group)
	}
	return strings.Join(parts, " — ")
}

func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
