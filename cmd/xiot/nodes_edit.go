package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// Changes to a concentrator's node tree (XEP-0326 §§ node parameters,
// creating and destroying nodes, node commands) for "xiot nodes": --form,
// --create, --edit, --destroy, --commands and --execute, each naming a
// node as SOURCE/NODE.

// nodeChange holds the flags of one change to the tree.
type nodeChange struct {
	form, create, edit, destroy string
	commands, execute           string
	typ, command                string
	sets, setFiles              listFlag
}

// nodeActions are the flags that name a node to act on, in the order
// errors list them.
var nodeActions = []string{"form", "create", "edit", "destroy", "commands", "execute"}

// action returns the one change asked for ("" for browsing), or an
// error when several are.
func (c *nodeChange) action() (string, error) {
	var set []string
	for _, a := range nodeActions {
		if c.ref(a) != "" {
			set = append(set, "--"+a)
		}
	}
	switch {
	case len(set) > 1:
		return "", fmt.Errorf("%s: give one of them", strings.Join(set, ", "))
	case len(set) == 0:
		if c.typ != "" || c.command != "" || len(c.sets) > 0 || len(c.setFiles) > 0 {
			return "", errors.New("--type, --command, --set and --set-file go with --create, --edit, --form or --execute")
		}
		return "", nil
	}
	act := strings.TrimPrefix(set[0], "--")
	switch {
	case act == "execute" && c.command == "":
		return "", errors.New("--execute needs --command (xiot nodes --commands SOURCE/NODE lists them)")
	case act != "execute" && c.command != "":
		return "", errors.New("--command goes with --execute")
	case act == "create" && c.typ == "":
		return "", errors.New("--create needs --type, e.g. xiot.mqtt.TopicMapping under MQTTMappings/mappings or xiot.mqtt.Broker under MQTTBrokers/brokers")
	case act != "create" && act != "form" && c.typ != "":
		return "", errors.New("--type goes with --create or --form")
	case (act == "form" || act == "destroy" || act == "commands") && (len(c.sets) > 0 || len(c.setFiles) > 0):
		return "", fmt.Errorf("--set and --set-file go with --create, --edit or --execute, not --%s", act)
	case act == "edit" && len(c.sets) == 0 && len(c.setFiles) == 0:
		return "", errors.New("--edit needs --set key=value or --set-file key=path")
	}
	if _, _, err := splitNodeRef(c.ref(act)); err != nil {
		return "", fmt.Errorf("--%s %w", act, err)
	}
	return act, nil
}

// ref returns the node named by the flag of act.
func (c *nodeChange) ref(act string) string {
	return map[string]string{"form": c.form, "create": c.create, "edit": c.edit, "destroy": c.destroy,
		"commands": c.commands, "execute": c.execute}[act]
}

// splitNodeRef splits SOURCE/NODE at its first '/': node ids may hold
// slashes ("<device>/<node>"), data source ids do not.
func splitNodeRef(ref string) (source, node string, err error) {
	source, node, ok := strings.Cut(ref, "/")
	if !ok || source == "" || node == "" {
		return "", "", fmt.Errorf("%q: want SOURCE/NODE, e.g. MQTTMappings/mappings", ref)
	}
	return source, node, nil
}

// values returns the submitted form values of --set and --set-file: a
// --set-file value is the file's content, read like a password file
// (owner-only permissions, one line), so that secrets stay out of the
// command line.
func (c *nodeChange) values() ([][2]string, error) {
	var out [][2]string
	seen := map[string]bool{}
	add := func(flag, kv string, read func(string) (string, error)) error {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("--%s %q: want key=value", flag, kv)
		}
		if seen[k] {
			return fmt.Errorf("--%s %s: given twice", flag, k)
		}
		seen[k] = true
		if read != nil {
			s, err := read(v)
			if err != nil {
				return fmt.Errorf("--%s %s: %w", flag, k, err)
			}
			v = s
		}
		out = append(out, [2]string{k, v})
		return nil
	}
	for _, kv := range c.sets {
		if err := add("set", kv, nil); err != nil {
			return nil, err
		}
	}
	for _, kv := range c.setFiles {
		if err := add("set-file", kv, config.ReadSecretFile); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// submitForm is a XEP-0004 form of type submit with the values.
func submitForm(vals [][2]string) *xmpp.Element {
	x := xmpp.NewElement(iotcontrol.NSData, "x", "type", "submit")
	for _, kv := range vals {
		x.Add(xmpp.NewElement(iotcontrol.NSData, "field", "var", kv[0]).Add(xmpp.NewElement(iotcontrol.NSData, "value").AddText(kv[1])))
	}
	return x
}

// run carries out the change act on the concentrator at to and prints
// its outcome.
func (c *nodeChange) run(ctx context.Context, s *xmpp.Session, to, act string, asJSON bool, stdout io.Writer) error {
	src, node, err := splitNodeRef(c.ref(act))
	if err != nil {
		return err
	}
	switch act {
	case "form":
		req := xmpp.NewElement(nsConcentrators, "getNodeParametersForEdit", "sourceId", src, "nodeId", node)
		if c.typ != "" {
			req = xmpp.NewElement(nsConcentrators, "getParametersForNewNode", "sourceId", src, "nodeId", node, "type", c.typ)
		}
		res, err := concentratorRequest(ctx, s, to, "get", req)
		if err != nil {
			return err
		}
		return printNodeForm(stdout, res.Child(iotcontrol.NSData, "x"), asJSON)
	case "destroy":
		if _, err := concentratorRequest(ctx, s, to, "set", xmpp.NewElement(nsConcentrators, "destroyNode", "sourceId", src, "nodeId", node)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "destroyed %s/%s\n", src, node)
		return nil
	case "commands", "execute":
		return c.runCommand(ctx, s, to, act, src, node, asJSON, stdout)
	}
	vals, err := c.values()
	if err != nil {
		return err
	}
	req := xmpp.NewElement(nsConcentrators, "setNodeParametersAfterEdit", "sourceId", src, "nodeId", node)
	if act == "create" {
		req = xmpp.NewElement(nsConcentrators, "createNewNode", "sourceId", src, "nodeId", node, "type", c.typ)
	}
	res, err := concentratorRequest(ctx, s, to, "set", req.Add(submitForm(vals)))
	if err != nil {
		return err
	}
	return printNodes(stdout, parseNodes(src, res), asJSON)
}

// nodeCommandInfo is one command of getNodeCommands.
type nodeCommandInfo struct {
	ID           string `json:"command"`
	Name         string `json:"name,omitempty"`
	Type         string `json:"type,omitempty"`
	Confirmation string `json:"confirmationString,omitempty"`
	Success      string `json:"successString,omitempty"`
	Failure      string `json:"failureString,omitempty"`
}

// runCommand lists the node's commands (--commands), or executes one
// (--execute with --command, parameters from --set and --set-file) and
// prints its success string.
func (c *nodeChange) runCommand(ctx context.Context, s *xmpp.Session, to, act, src, node string, asJSON bool, stdout io.Writer) error {
	res, err := concentratorRequest(ctx, s, to, "get", xmpp.NewElement(nsConcentrators, "getNodeCommands", "sourceId", src, "nodeId", node))
	if err != nil {
		return err
	}
	var cmds []nodeCommandInfo
	for _, el := range res.Children() {
		if el.Name.Local == "command" {
			cmds = append(cmds, nodeCommandInfo{ID: el.Get("command"), Name: el.Get("name"), Type: el.Get("type"),
				Confirmation: el.Get("confirmationString"), Success: el.Get("successString"), Failure: el.Get("failureString")})
		}
	}
	if act == "commands" {
		if asJSON {
			return jsonLines(stdout, cmds)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COMMAND\tTYPE\tNAME")
		for _, cm := range cmds {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", cm.ID, cm.Type, cm.Name)
		}
		return tw.Flush()
	}
	i := slices.IndexFunc(cmds, func(cm nodeCommandInfo) bool { return cm.ID == c.command })
	if i < 0 {
		var ids []string
		for _, cm := range cmds {
			ids = append(ids, cm.ID)
		}
		return fmt.Errorf("%s/%s has no command %q (it has: %s)", src, node, c.command, strings.Join(ids, ", "))
	}
	req := xmpp.NewElement(nsConcentrators, "executeNodeCommand", "sourceId", src, "nodeId", node, "command", c.command)
	vals, err := c.values()
	if err != nil {
		return err
	}
	if len(vals) > 0 || cmds[i].Type == "Parameterized" {
		req.Add(submitForm(vals))
	}
	if _, err := concentratorRequest(ctx, s, to, "set", req); err != nil {
		if cmds[i].Failure != "" {
			return fmt.Errorf("%s %w", cmds[i].Failure, err)
		}
		return err
	}
	msg := cmds[i].Success
	if msg == "" {
		msg = "done"
	}
	fmt.Fprintf(stdout, "%s/%s %s: %s\n", src, node, c.command, msg)
	return nil
}

// concentratorRequest sends a XEP-0326 request of type typ and returns
// its response; a refusal is an error with the XEP's result code and, for
// FormError, each field's problem.
func concentratorRequest(ctx context.Context, s *xmpp.Session, to, typ string, req *xmpp.Element) (*xmpp.Element, error) {
	res, err := s.SendIQ(ctx, xmpp.NewElement("", "iq", "type", typ, "to", to).Add(req))
	var resp *xmpp.Element
	if res != nil {
		resp = res.Child(nsConcentrators, req.Name.Local+"Response")
	}
	if err == nil && resp == nil {
		return nil, fmt.Errorf("%s to %s: no %sResponse in the answer", req.Name.Local, to, req.Name.Local)
	}
	r := ""
	if resp != nil {
		r = resp.Get("result")
	}
	if err == nil && (r == "" || r == "OK") {
		return resp, nil
	}
	msg := fmt.Sprintf("%s to %s", req.Name.Local, to)
	if r != "" {
		msg += ": " + r
	}
	var problems []string
	if resp != nil {
		for _, e := range resp.Children() {
			if e.Name.Local == "error" {
				problems = append(problems, e.Get("var")+": "+e.Text())
			}
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		msg += "\n  " + strings.Join(problems, "\n  ")
	}
	if err == nil {
		return nil, errors.New(msg)
	}
	var se *xmpp.StanzaError
	if j, perr := jid.Parse(to); perr == nil && j.Localpart() != "" && j.Resourcepart() == "" && errors.As(err, &se) {
		// The server answers for an account's bare JID.
		return nil, fmt.Errorf("%s: %w (a concentrator in client mode answers on its full JID, %s/RESOURCE)", msg, err, to)
	}
	return nil, fmt.Errorf("%s: %w", msg, err)
}

// printNodeForm prints a parameter form: one line per field (key, type,
// value, flags, label and description), or the form as JSON.
func printNodeForm(w io.Writer, x *xmpp.Element, asJSON bool) error {
	if x == nil {
		return errors.New("no parameter form in the answer")
	}
	type field struct {
		Var      string   `json:"var"`
		Type     string   `json:"type,omitempty"`
		Label    string   `json:"label,omitempty"`
		Desc     string   `json:"desc,omitempty"`
		Value    string   `json:"value"`
		Options  []string `json:"options,omitempty"`
		Required bool     `json:"required,omitempty"`
		ReadOnly bool     `json:"readOnly,omitempty"`
	}
	var fields []field
	for _, f := range x.Children() {
		if f.Name.Local != "field" || f.Get("type") == "hidden" {
			continue
		}
		fd := field{Var: f.Get("var"), Type: f.Get("type"), Label: f.Get("label")}
		for _, c := range f.Children() {
			switch c.Name.Local {
			case "desc":
				fd.Desc = c.Text()
			case "value":
				fd.Value = c.Text()
			case "option":
				if v := c.Child(iotcontrol.NSData, "value"); v != nil {
					fd.Options = append(fd.Options, v.Text())
				}
			case "required":
				fd.Required = true
			case "readOnly":
				fd.ReadOnly = true
			}
		}
		fields = append(fields, fd)
	}
	if asJSON {
		return json.NewEncoder(w).Encode(fields)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tVALUE\tFLAGS\tLABEL")
	for _, f := range fields {
		var flags []string
		if f.Required {
			flags = append(flags, "required")
		}
		if f.ReadOnly {
			flags = append(flags, "read-only")
		}
		label := f.Label
		if f.Desc != "" {
			label += ": " + f.Desc
		}
		if len(f.Options) > 0 {
			label += " (" + strings.Join(f.Options, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Var, f.Type, f.Value, strings.Join(flags, ","), label)
	}
	return tw.Flush()
}
