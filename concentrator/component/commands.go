package component

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/xiot/xiot/internal/xmpp"
)

// Node commands (XEP-0326 §"Node Commands"), also on several nodes at
// once (getCommonNodeCommands and the rest): on mapping nodes,
// "resubscribe" (Simple: the broker sends the retained messages of the
// mapping's topics again) and "publishSample" (Parameterized: publish a
// payload on the mapping's topic as a device would, to try the mapping
// out); on the list of mappings, "resubscribeAll".

// nodeCommand describes one command of a node.
type nodeCommand struct {
	id, name, typ                  string
	confirmation, success, failure string
}

// element returns the command element of getNodeCommands.
func (c nodeCommand) element() *xmpp.Element {
	return xmpp.NewElement(NSConcentrators, "command", "command", c.id, "name", c.name, "type", c.typ,
		"confirmationString", c.confirmation, "successString", c.success, "failureString", c.failure, "sortCategory", "MQTT")
}

var (
	cmdResubscribe = nodeCommand{id: "resubscribe", name: "Fetch retained state again", typ: "Simple",
		success: "Subscribed again; retained messages follow.", failure: "Could not subscribe again."}
	cmdResubscribeAll = nodeCommand{id: "resubscribeAll", name: "Fetch retained state of every mapping again", typ: "Simple",
		success: "Subscribed again; retained messages follow.", failure: "Could not subscribe again."}
	cmdPublishSample = nodeCommand{id: "publishSample", name: "Publish a sample message…", typ: "Parameterized",
		confirmation: "Publish this payload to the MQTT broker as if the device had sent it?",
		success:      "Published.", failure: "Could not publish."}
)

// commands lists the node's commands.
func (n treeNode) commands() []nodeCommand {
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		return []nodeCommand{cmdResubscribeAll}
	case n.src == MappingsSourceID:
		if strings.ContainsAny(n.mp.Config.Topic, "+#") {
			return []nodeCommand{cmdResubscribe}
		}
		return []nodeCommand{cmdResubscribe, cmdPublishSample}
	}
	return nil
}

// command returns the node's command id.
func (n treeNode) command(id string) (nodeCommand, bool) {
	for _, c := range n.commands() {
		if c.id == id {
			return c, true
		}
	}
	return nodeCommand{}, false
}

// sampleFields are the parameters of publishSample on n.
func sampleFields(n treeNode) []formField {
	var fs []formField
	t := n.mp.Config.Topic
	if strings.Contains(t, "{device}") {
		fs = append(fs, formField{v: "device", label: "Device", desc: "Device id, the {device} level of the topic.", required: true})
	}
	if strings.Contains(t, "{field}") {
		fs = append(fs, formField{v: "field", label: "Field", desc: "Field name, the {field} level of the topic.", required: true})
	}
	return append(fs,
		formField{v: "payload", label: "Payload", desc: "Message text, e.g. 21.5 or a JSON document.", required: true},
		formField{v: "retain", typ: "boolean", label: "Retain", desc: "Keep the message as the topic's retained state.", value: "false"})
}

// commandParameters answers getCommandParameters.
func (c *Component) commandParameters(n treeNode, id string, resp *xmpp.Element) *nodeError {
	cmd, ok := n.command(id)
	if !ok {
		return errNodeNotFound("node " + strconv.Quote(n.id()) + " has no command " + strconv.Quote(id))
	}
	if cmd.typ != "Parameterized" {
		return errOther("command " + strconv.Quote(id) + " takes no parameters")
	}
	resp.Add(buildForm(cmd.name, sampleFields(n)))
	return nil
}

// commandValues reads and checks the parameters of a command for n: the
// submitted form of a Parameterized command (nil for a Simple one).
func commandValues(n treeNode, cmd nodeCommand, req *xmpp.Element) (map[string]string, *nodeError) {
	if cmd.typ != "Parameterized" {
		return nil, nil
	}
	vals, ne := submitted(req)
	if ne != nil {
		return nil, ne
	}
	var errs []formError
	for _, f := range sampleFields(n) {
		if f.required && vals[f.v] == "" {
			errs = append(errs, formError{f.v, "required"})
		}
	}
	switch vals["retain"] {
	case "", "false", "0", "true", "1":
	default:
		errs = append(errs, formError{"retain", "must be true or false"})
	}
	if len(errs) > 0 {
		return nil, errForm(errs)
	}
	return vals, nil
}

// runCommand executes a command on n with checked values.
func (c *Component) runCommand(ctx context.Context, n treeNode, cmd nodeCommand, vals map[string]string) error {
	switch cmd.id {
	case "resubscribe", "resubscribeAll":
		mid := ""
		if n.mp != nil {
			mid = n.mp.ID
		}
		return c.b.ResubscribeMapping(ctx, mid)
	case "publishSample":
		retain := vals["retain"] == "true" || vals["retain"] == "1"
		return c.b.PublishSample(ctx, n.mp.ID, vals["device"], vals["field"], []byte(vals["payload"]), retain)
	}
	return errors.New("command " + strconv.Quote(cmd.id) + " not implemented")
}

// executeCommand answers executeNodeCommand.
func (c *Component) executeCommand(ctx context.Context, n treeNode, req *xmpp.Element) *nodeError {
	id := req.Get("command")
	cmd, ok := n.command(id)
	if !ok {
		return errNodeNotFound("node " + strconv.Quote(n.id()) + " has no command " + strconv.Quote(id))
	}
	vals, ne := commandValues(n, cmd, req)
	if ne != nil {
		return ne
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadTimeout)
	defer cancel()
	if err := c.runCommand(ctx, n, cmd, vals); err != nil {
		return errOther(err.Error())
	}
	return nil
}

// commonCommands lists the commands every node has.
func commonCommands(nodes []treeNode) []nodeCommand {
	var out []nodeCommand
	for i, n := range nodes {
		if i == 0 {
			out = n.commands()
			continue
		}
		out = slices.DeleteFunc(out, func(cmd nodeCommand) bool { _, ok := n.command(cmd.id); return !ok })
	}
	return out
}

// commonCommand returns the command id if every node has it.
func commonCommand(nodes []treeNode, id string) (nodeCommand, *nodeError) {
	for _, cmd := range commonCommands(nodes) {
		if cmd.id == id {
			return cmd, nil
		}
	}
	return nodeCommand{}, errNodeNotFound("command " + strconv.Quote(id) + " is not common to the nodes")
}

// commonCommandParameters answers getCommonCommandParameters: the
// parameters any of the nodes needs.
func (c *Component) commonCommandParameters(nodes []treeNode, id string, resp *xmpp.Element) *nodeError {
	cmd, ne := commonCommand(nodes, id)
	if ne != nil {
		return ne
	}
	if cmd.typ != "Parameterized" {
		return errOther("command " + strconv.Quote(id) + " takes no parameters")
	}
	var fields []formField
	for _, n := range nodes {
		for _, f := range sampleFields(n) {
			if !slices.ContainsFunc(fields, func(g formField) bool { return g.v == f.v }) {
				fields = append(fields, f)
			}
		}
	}
	resp.Add(buildForm(cmd.name, fields))
	return nil
}

// executeCommonCommand answers executeCommonNodeCommand: one result
// element per node, false with the error where the command failed.
func (c *Component) executeCommonCommand(ctx context.Context, nodes []treeNode, req, resp *xmpp.Element) *nodeError {
	cmd, ne := commonCommand(nodes, req.Get("command"))
	if ne != nil {
		return ne
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.SetTimeout)
	defer cancel()
	for _, n := range nodes {
		vals, ne := commandValues(n, cmd, req)
		var err error
		switch {
		case ne != nil && ne.code == "FormError" && len(ne.form) > 0 && ne.form[0].v == "retain":
			return ne // the same for every node
		case ne != nil:
			err = errors.New(ne.text)
		default:
			nctx, ncancel := context.WithTimeout(ctx, c.opts.ReadTimeout)
			err = c.runCommand(nctx, n, cmd, vals)
			ncancel()
		}
		r := xmpp.NewElement(NSConcentrators, "result")
		if err != nil {
			r.Set("error", err.Error())
			r.AddText("false")
		} else {
			r.AddText("true")
		}
		resp.Add(r)
	}
	return nil
}
