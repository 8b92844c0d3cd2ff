package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/xiot/xiot/internal/disco"
	"github.com/xiot/xiot/internal/xmpp"
)

const discoUsage = `Usage: xiot disco [flags] JID

Asks JID for its XEP-0030 service discovery information (identities,
features and extended information forms) and its items, and prints them.

Examples:
  xiot disco --config client.yaml device@example.org/agent
  xiot disco --jid me@example.org --password-file ~/.xiot-pass device@example.org/agent
  xiot disco --node urn:xmpp:iot:sensordata device@example.org/agent
`

// runDisco implements "xiot disco".
func runDisco(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("disco", discoUsage)
	var acct accountFlags
	acct.register(fs)
	node := fs.String("node", "", "query this node instead of the entity itself")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one JID, got %d arguments", fs.NArg())
	}
	target := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	info, err := disco.GetInfo(ctx, s, target, *node)
	if err != nil {
		return err
	}
	items, err := disco.GetItems(ctx, s, target, *node)
	if err != nil {
		// Items are optional; an entity without them may say so.
		fmt.Fprintf(stderr, "xiot disco: %v\n", err)
	}
	if *asJSON {
		type jsonOut struct {
			JID        string            `json:"jid"`
			Node       string            `json:"node,omitempty"`
			Identities []disco.Identity  `json:"identities"`
			Features   []string          `json:"features"`
			Forms      map[string]string `json:"forms,omitempty"`
			Items      []disco.Item      `json:"items"`
		}
		out := jsonOut{JID: target, Node: *node, Identities: info.Identities, Features: info.Features, Items: items}
		if len(info.Forms) > 0 {
			out.Forms = map[string]string{}
			for _, f := range info.Forms {
				out.Forms[formType(f)] = f.String()
			}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "%s", target)
	if *node != "" {
		fmt.Fprintf(stdout, " node %s", *node)
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "identities:")
	for _, id := range info.Identities {
		fmt.Fprintf(stdout, "  %s/%s", id.Category, id.Type)
		if id.Name != "" {
			fmt.Fprintf(stdout, "  %q", id.Name)
		}
		fmt.Fprintln(stdout)
	}
	feats := append([]string(nil), info.Features...)
	sort.Strings(feats)
	fmt.Fprintln(stdout, "features:")
	for _, f := range feats {
		fmt.Fprintf(stdout, "  %s\n", f)
	}
	for _, f := range info.Forms {
		fmt.Fprintf(stdout, "form %s:\n", formType(f))
		for _, fld := range f.Children() {
			if fld.Name.Local != "field" || fld.Get("var") == "FORM_TYPE" {
				continue
			}
			var vals []string
			for _, v := range fld.Children() {
				if v.Name.Local == "value" {
					vals = append(vals, v.Text())
				}
			}
			fmt.Fprintf(stdout, "  %s: %v\n", fld.Get("var"), vals)
		}
	}
	fmt.Fprintln(stdout, "items:")
	if len(items) == 0 {
		fmt.Fprintln(stdout, "  (none)")
	}
	for _, it := range items {
		fmt.Fprintf(stdout, "  %s", it.JID)
		if it.Node != "" {
			fmt.Fprintf(stdout, "  node=%s", it.Node)
		}
		if it.Name != "" {
			fmt.Fprintf(stdout, "  %q", it.Name)
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// formType returns the FORM_TYPE value of an XEP-0128 form.
func formType(f *xmpp.Element) string {
	for _, fld := range f.Children() {
		if fld.Get("var") == "FORM_TYPE" {
			if v := fld.FirstChild(); v != nil {
				return v.Text()
			}
		}
	}
	return "(no FORM_TYPE)"
}
