package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// nsConcentrators is the XEP-0326 namespace.
const nsConcentrators = "urn:xmpp:iot:concentrators"

const nodesUsage = `Usage: xiot nodes [flags] JID

Browses the node tree of the concentrator at JID (XEP-0326): its data
sources, then in each the root nodes and their children, and prints one
line per node (source, node id, display name, type, parent, state,
readable, controllable) or one JSON object per line with --json (with
the nodes' parameters too with --params). A concentrator in client mode
(xiot concentrator without a component section) answers on its account's
full JID: give user@domain/resource.

Examples:
  xiot nodes --config client.yaml mqtt.example.org
  xiot nodes --source MQTT --json mqtt.example.org
  xiot nodes --source MQTTMappings --json --params mqtt.example.org
  xiot nodes --source MQTTBrokers mqtt.example.org
  xiot nodes bridge@example.org/xiot
`

// nodeInfo is one node of a concentrator's tree.
type nodeInfo struct {
	Source       string `json:"sourceId"`
	ID           string `json:"nodeId"`
	Name         string `json:"displayName,omitempty"`
	Type         string `json:"nodeType,omitempty"`
	Parent       string `json:"parentId,omitempty"`
	State        string `json:"state,omitempty"`
	HasChildren  bool   `json:"hasChildren"`
	Readable     bool   `json:"isReadable"`
	Controllable bool   `json:"isControllable"`
	Commands     bool   `json:"hasCommands"`
	// Params are the node's parameters by id (--params).
	Params map[string]string `json:"parameters,omitempty"`
}

// runNodes implements "xiot nodes".
func runNodes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("nodes", nodesUsage)
	var acct accountFlags
	acct.register(fs)
	source := fs.String("source", "", "browse only this data source")
	asJSON := fs.Bool("json", false, "print JSON lines")
	maxDepth := fs.Int("depth", 8, "deepest level of child nodes fetched")
	withParams := fs.Bool("params", false, "fetch the nodes' parameters (shown with --json)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one JID, got %d arguments", fs.NArg())
	}
	to := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	sources := []string{*source}
	if *source == "" {
		res, err := concentratorIQ(ctx, s, to, xmpp.NewElement(nsConcentrators, "getAllDataSources"))
		if err != nil {
			return err
		}
		sources = nil
		for _, ds := range res.Children() {
			if ds.Name.Local == "dataSource" {
				sources = append(sources, ds.Get("sourceId"))
			}
		}
	}
	var nodes []nodeInfo
	for _, src := range sources {
		res, err := concentratorIQ(ctx, s, to, xmpp.NewElement(nsConcentrators, "getRootNodes", "sourceId", src, "parameters", strconv.FormatBool(*withParams)))
		if err != nil {
			return err
		}
		level := parseNodes(src, res)
		for depth := 0; len(level) > 0; depth++ {
			nodes = append(nodes, level...)
			if depth >= *maxDepth {
				break
			}
			var next []nodeInfo
			for _, n := range level {
				if !n.HasChildren {
					continue
				}
				res, err := concentratorIQ(ctx, s, to, xmpp.NewElement(nsConcentrators, "getChildNodes", "sourceId", src, "nodeId", n.ID, "parameters", strconv.FormatBool(*withParams)))
				if err != nil {
					return err
				}
				next = append(next, parseNodes(src, res)...)
			}
			level = next
		}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, n := range nodes {
			if err := enc.Encode(n); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tNODE\tNAME\tTYPE\tPARENT\tSTATE\tREADABLE\tCONTROLLABLE")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%v\n", n.Source, n.ID, n.Name, n.Type, n.Parent, n.State, n.Readable, n.Controllable)
	}
	return tw.Flush()
}

// concentratorIQ sends a XEP-0326 request and returns its response
// element, or an error for an IQ error or a result other than OK.
func concentratorIQ(ctx context.Context, s *xmpp.Session, to string, req *xmpp.Element) (*xmpp.Element, error) {
	res, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "get", "to", to).Add(req))
	if err != nil {
		var se *xmpp.StanzaError
		if j, perr := jid.Parse(to); perr == nil && j.Localpart() != "" && j.Resourcepart() == "" && errors.As(err, &se) {
			// The server answers for an account's bare JID.
			return nil, fmt.Errorf("%s to %s: %w (a concentrator in client mode answers on its full JID, %s/RESOURCE)", req.Name.Local, to, err, to)
		}
		return nil, fmt.Errorf("%s to %s: %w", req.Name.Local, to, err)
	}
	resp := res.Child(nsConcentrators, req.Name.Local+"Response")
	if resp == nil {
		return nil, fmt.Errorf("%s to %s: no %sResponse in the answer", req.Name.Local, to, req.Name.Local)
	}
	if r := resp.Get("result"); r != "" && r != "OK" {
		return nil, fmt.Errorf("%s to %s: result %s", req.Name.Local, to, r)
	}
	return resp, nil
}

func parseNodes(source string, resp *xmpp.Element) []nodeInfo {
	var out []nodeInfo
	for _, n := range resp.Children() {
		if n.Name.Local != "node" {
			continue
		}
		ni := nodeInfo{
			Source: source, ID: n.Get("nodeId"), Name: n.Get("displayName"), Type: n.Get("nodeType"), Parent: n.Get("parentId"), State: n.Get("state"),
			HasChildren: n.Get("hasChildren") == "true", Readable: n.Get("isReadable") == "true", Controllable: n.Get("isControllable") == "true",
			Commands: n.Get("hasCommands") == "true",
		}
		for _, p := range n.Children() {
			if id := p.Get("id"); id != "" {
				if ni.Params == nil {
					ni.Params = map[string]string{}
				}
				ni.Params[id] = p.Get("value")
			}
		}
		out = append(out, ni)
	}
	return out
}
