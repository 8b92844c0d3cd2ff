package component

import (
	"context"
	"strconv"
	"strings"

	"github.com/xiot/xiot/internal/xmpp"
)

// Node commands (XEP-0326 §"Node Commands"): on mapping nodes,
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

// executeCommand answers executeNodeCommand.
func (c *Component) executeCommand(ctx context.Context, n treeNode, req *xmpp.Element) *nodeError {
	id := req.Get("command")
	cmd, ok := n.command(id)
	if !ok {
		return errNodeNotFound("node " + strconv.Quote(n.id()) + " has no command " + strconv.Quote(id))
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadTimeout)
	defer cancel()
	switch cmd.id {
	case "resubscribe", "resubscribeAll":
		mid := ""
		if n.mp != nil {
			mid = n.mp.ID
		}
		if err := c.b.ResubscribeMapping(ctx, mid); err != nil {
			return errOther(err.Error())
		}
	case "publishSample":
		vals, ne := submitted(req)
		if ne != nil {
			return ne
		}
		var errs []formError
		for _, f := range sampleFields(n) {
			if f.required && vals[f.v] == "" {
				errs = append(errs, formError{f.v, "required"})
			}
		}
		retain := false
		switch vals["retain"] {
		case "", "false", "0":
		case "true", "1":
			retain = true
		default:
			errs = append(errs, formError{"retain", "must be true or false"})
		}
		if len(errs) > 0 {
			return errForm(errs)
		}
		if err := c.b.PublishSample(ctx, n.mp.ID, vals["device"], vals["field"], []byte(vals["payload"]), retain); err != nil {
			return errOther(err.Error())
		}
	}
	return nil
}
