package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

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

It also changes the tree, as an owner of the concentrator: --form prints
a node's parameter form (with --type, the form of a new node of that type
under it), --create adds a node of --type, --edit changes parameters,
--destroy removes a node; parameters come as --set key=value, or
--set-file key=path for secrets (the file's content, owner-only like a
password file). --commands lists a node's commands and --execute runs
one (--command ID, parameters as above). Nodes are named SOURCE/NODE.
Created topic mappings and brokers take effect at once and are kept
across restarts.

Examples:
  xiot nodes --config client.yaml mqtt.example.org
  xiot nodes --source MQTT --json mqtt.example.org
  xiot nodes --source MQTTMappings --json --params mqtt.example.org
  xiot nodes --source MQTTBrokers mqtt.example.org
  xiot nodes bridge@example.org/xiot
  xiot nodes --form MQTTBrokers/brokers --type xiot.mqtt.Broker mqtt.example.org
  xiot nodes --create MQTTBrokers/brokers --type xiot.mqtt.Broker \
      --set id=site2 --set url=mqtts://broker2.example.org:8883 \
      --set username=xiot --set-file password=/etc/xiot/site2.pass mqtt.example.org
  xiot nodes --create MQTTMappings/mappings --type xiot.mqtt.TopicMapping \
      --set id=boilers --set topic='boiler/{device}/temp' --set unit=°C \
      --set broker=site2 mqtt.example.org
  xiot nodes --edit MQTT/plug1 --set name='Desk lamp' mqtt.example.org
  xiot nodes --destroy MQTTMappings/boilers mqtt.example.org
  xiot nodes --commands MQTTMappings/config-1 mqtt.example.org
  xiot nodes --execute MQTTMappings/mappings --command resubscribeAll mqtt.example.org
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
	var ch nodeChange
	fs.StringVar(&ch.form, "form", "", "print the parameter form of `SOURCE/NODE` (with --type: of a new node under it)")
	fs.StringVar(&ch.create, "create", "", "create a node of --type under `SOURCE/PARENT` from --set and --set-file")
	fs.StringVar(&ch.edit, "edit", "", "change parameters of `SOURCE/NODE` (--set, --set-file)")
	fs.StringVar(&ch.destroy, "destroy", "", "destroy `SOURCE/NODE`")
	fs.StringVar(&ch.commands, "commands", "", "list the node commands of `SOURCE/NODE`")
	fs.StringVar(&ch.execute, "execute", "", "execute --command on `SOURCE/NODE` (parameters from --set, --set-file)")
	fs.StringVar(&ch.command, "command", "", "the command `ID` of --execute, e.g. resubscribe")
	fs.StringVar(&ch.typ, "type", "", "node type of --create or --form, e.g. xiot.mqtt.TopicMapping, xiot.mqtt.Broker")
	fs.Var(&ch.sets, "set", "parameter `key=value` of --create or --edit (repeatable)")
	fs.Var(&ch.setFiles, "set-file", "parameter `key=path` whose value is the file's content, owner-only like a password file (repeatable)")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "want exactly one JID, got %d arguments", fs.NArg())
	}
	act, err := ch.action()
	if err != nil {
		return usagef(fs, "%v", err)
	}
	if act != "" && *source != "" {
		return usagef(fs, "--source browses; --%s names its node as SOURCE/NODE", act)
	}
	to := fs.Arg(0)
	ctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(ctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	if act != "" {
		return ch.run(ctx, s, to, act, *asJSON, stdout)
	}
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
	return printNodes(stdout, nodes, *asJSON)
}

// jsonLines writes each of vs as one JSON object per line.
func jsonLines[T any](w io.Writer, vs []T) error {
	enc := json.NewEncoder(w)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

// printNodes prints nodes as a table, or one JSON object per line.
func printNodes(w io.Writer, nodes []nodeInfo, asJSON bool) error {
	if asJSON {
		return jsonLines(w, nodes)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tNODE\tNAME\tTYPE\tPARENT\tSTATE\tREADABLE\tCONTROLLABLE")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%v\n", n.Source, n.ID, n.Name, n.Type, n.Parent, n.State, n.Readable, n.Controllable)
	}
	return tw.Flush()
}

// concentratorIQ sends a XEP-0326 query (an IQ get); see
// concentratorRequest.
func concentratorIQ(ctx context.Context, s *xmpp.Session, to string, req *xmpp.Element) (*xmpp.Element, error) {
	return concentratorRequest(ctx, s, to, "get", req)
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
