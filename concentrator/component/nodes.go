package component

import (
	"context"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
)

// XEP-0326 (Internet of Things - Concentrators, v0.4) on the component's
// own JID: one data source, SourceID, whose root nodes are the devices and
// whose child nodes are the devices' field nodes (Homie nodes, SenML
// mapping nodes) as "<device>/<node>".

// NSConcentrators is the XEP-0326 namespace.
const NSConcentrators = "urn:xmpp:iot:concentrators"

// SourceID is the data source holding the MQTT devices.
const SourceID = "MQTT"

// maxNodes bounds one node list answer; larger lists are refused with
// OtherError (XEP-0326 has no paging) rather than cut silently.
const maxNodes = 1000

// Node types of the tree.
const (
	nodeTypeDevice = "xiot.mqtt.Device"
	nodeTypeNode   = "xiot.mqtt.FieldNode"
)

// nodeCommands are the XEP-0326 commands answered, in getCapabilities
// order.
var nodeCommands = []string{
	"getCapabilities", "getAllDataSources", "getRootDataSources", "getChildDataSources",
	"containsNode", "containsNodes", "getNode", "getNodes", "getAllNodes", "getRootNodes", "getChildNodes",
}

// unimplementedCommands are the other requests of the XEP-0326 schema,
// answered with NotImplemented as §"Unimplemented commands" says.
var unimplementedCommands = []string{
	"getNodeInheritance", "getIndices", "getNodesFromIndex", "getNodesFromIndices", "getAllIndexValues",
	"getNodeParametersForEdit", "setNodeParametersAfterEdit", "getCommonNodeParametersForEdit",
	"setCommonNodeParametersAfterEdit", "getAddableNodeTypes", "getParametersForNewNode", "createNewNode",
	"destroyNode", "getAncestors", "getNodeCommands", "getCommandParameters", "executeNodeCommand",
	"executeNodeQuery", "getCommonNodeCommands", "getCommonCommandParameters", "executeCommonNodeCommand",
	"executeCommonNodeQuery", "moveNodeUp", "moveNodeDown", "moveNodesUp", "moveNodesDown", "subscribe",
	"unsubscribe", "getDatabases",
}

// nodeError is a XEP-0326 response code other than OK, with the RFC 6120
// condition sent beside it.
type nodeError struct {
	code, typ, condition, text string
}

var (
	errNodeNotFound = func(text string) *nodeError { return &nodeError{"NotFound", "cancel", "item-not-found", text} }
	errPrivileges   = &nodeError{"InsufficientPrivileges", "auth", "forbidden", "Only the concentrator's owners may browse its nodes."}
	errNotImpl      = &nodeError{"NotImplemented", "cancel", "feature-not-implemented", ""}
)

// registerNodes installs the XEP-0326 handlers on the root mux.
func (c *Component) registerNodes() {
	for _, cmd := range nodeCommands {
		c.root.IQ("get", NSConcentrators, cmd, c.nodeHandler(cmd))
	}
	for _, cmd := range unimplementedCommands {
		h := c.nodeHandler(cmd)
		c.root.IQ("get", NSConcentrators, cmd, h)
		c.root.IQ("set", NSConcentrators, cmd, h)
	}
}

// nodeHandler answers one XEP-0326 command: the result with result='OK',
// or an IQ error carrying both the response element with its code and the
// matching RFC 6120 error.
func (c *Component) nodeHandler(cmd string) xmpp.Handler {
	return xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		resp := xmpp.NewElement(NSConcentrators, cmd+"Response")
		var ne *nodeError
		from, _ := jid.Parse(iq.Get("from"))
		switch {
		case !c.isOwner(from):
			ne = errPrivileges
		default:
			ne = c.answerNodes(cmd, iq.FirstChild(), resp)
		}
		if ne == nil {
			resp.Set("result", "OK")
			return s.Send(ctx, xmpp.ResultIQ(iq, resp))
		}
		r := xmpp.ErrorReply(iq, xmpp.NewStanzaError(ne.typ, ne.condition, ne.text))
		r.Add(xmpp.NewElement(NSConcentrators, cmd+"Response", "result", ne.code))
		return s.Send(ctx, r)
	})
}

// answerNodes fills resp for cmd, or returns why not.
func (c *Component) answerNodes(cmd string, req, resp *xmpp.Element) *nodeError {
	params := req.Get("parameters") == "true" || req.Get("parameters") == "1"
	switch cmd {
	case "getCapabilities":
		for _, v := range nodeCommands {
			resp.Add(xmpp.NewElement(NSConcentrators, "value").AddText(v))
		}
	case "getAllDataSources", "getRootDataSources":
		resp.Add(xmpp.NewElement(NSConcentrators, "dataSource", "sourceId", SourceID, "name", "MQTT devices", "hasChildren", "false"))
	case "getChildDataSources":
		if req.Get("sourceId") != SourceID {
			return errNodeNotFound("no data source " + strconv.Quote(req.Get("sourceId")))
		}
	case "containsNode":
		_, ok := c.lookupNode(req.Get("sourceId"), req.Get("nodeId"))
		resp.AddText(strconv.FormatBool(ok))
	case "containsNodes":
		for _, n := range req.Children() {
			if n.Name.Local != "node" {
				continue
			}
			_, ok := c.lookupNode(n.Get("sourceId"), n.Get("nodeId"))
			resp.Add(xmpp.NewElement(NSConcentrators, "value").AddText(strconv.FormatBool(ok)))
		}
	case "getNode":
		n, ok := c.lookupNode(req.Get("sourceId"), req.Get("nodeId"))
		if !ok {
			return errNodeNotFound("no node " + strconv.Quote(req.Get("nodeId")))
		}
		n.fill(resp, params, c.jidOf)
	case "getNodes":
		for _, el := range req.Children() {
			if el.Name.Local != "node" {
				continue
			}
			n, ok := c.lookupNode(el.Get("sourceId"), el.Get("nodeId"))
			if !ok {
				return errNodeNotFound("no node " + strconv.Quote(el.Get("nodeId")))
			}
			resp.Add(n.element(params, c.jidOf))
		}
	case "getAllNodes", "getRootNodes":
		if req.Get("sourceId") != SourceID {
			return errNodeNotFound("no data source " + strconv.Quote(req.Get("sourceId")))
		}
		var nodes []treeNode
		for _, dev := range c.b.Devices() {
			nodes = append(nodes, treeNode{dev: dev})
			if cmd == "getAllNodes" {
				for _, fn := range nodesOf(dev)[1:] {
					nodes = append(nodes, treeNode{dev: dev, node: fn})
				}
			}
		}
		return addNodes(resp, nodes, params, c.jidOf)
	case "getChildNodes":
		n, ok := c.lookupNode(req.Get("sourceId"), req.Get("nodeId"))
		if !ok {
			return errNodeNotFound("no node " + strconv.Quote(req.Get("nodeId")))
		}
		var nodes []treeNode
		if n.node == "" {
			for _, fn := range nodesOf(n.dev)[1:] {
				nodes = append(nodes, treeNode{dev: n.dev, node: fn})
			}
		}
		return addNodes(resp, nodes, params, c.jidOf)
	default:
		return errNotImpl
	}
	return nil
}

// addNodes adds node elements to resp, refusing lists beyond maxNodes.
func addNodes(resp *xmpp.Element, nodes []treeNode, params bool, jidOf func(string) string) *nodeError {
	if len(nodes) > maxNodes {
		return &nodeError{"OtherError", "wait", "resource-constraint",
			strconv.Itoa(len(nodes)) + " nodes are more than one answer carries (" + strconv.Itoa(maxNodes) + "): use getRootNodes and getChildNodes"}
	}
	for _, n := range nodes {
		resp.Add(n.element(params, jidOf))
	}
	return nil
}

// treeNode is a node of the tree: a device, or one of its field nodes.
type treeNode struct {
	dev  mqttbridge.Device
	node string // "" for the device itself
}

// lookupNode finds a node by its XEP-0326 id.
func (c *Component) lookupNode(source, id string) (treeNode, bool) {
	if source != SourceID {
		return treeNode{}, false
	}
	if dev, ok := c.b.Device(id); ok {
		return treeNode{dev: dev}, true
	}
	// "<device>/<node>": the device id itself may hold slashes.
	for i := strings.LastIndexByte(id, '/'); i > 0; i = strings.LastIndexByte(id[:i], '/') {
		dev, ok := c.b.Device(id[:i])
		if !ok {
			continue
		}
		for _, fn := range nodesOf(dev)[1:] {
			if fn == id[i+1:] {
				return treeNode{dev: dev, node: fn}, true
			}
		}
	}
	return treeNode{}, false
}

// id returns the node's XEP-0326 id.
func (n treeNode) id() string {
	if n.node == "" {
		return n.dev.ID
	}
	return n.dev.ID + "/" + n.node
}

// element returns the node's node element.
func (n treeNode) element(params bool, jidOf func(string) string) *xmpp.Element {
	el := xmpp.NewElement(NSConcentrators, "node")
	n.fill(el, params, jidOf)
	return el
}

// fill sets the NodeInformation attributes (and parameters) on el.
func (n treeNode) fill(el *xmpp.Element, params bool, jidOf func(string) string) {
	readable, controllable, children := false, false, len(nodesOf(n.dev)) > 1 && n.node == ""
	for _, f := range n.dev.Fields {
		if f.Node == n.node {
			readable = true
			controllable = controllable || f.Writable
		}
	}
	state := "None"
	if !n.dev.Available {
		state = "ErrorUnsigned"
	}
	typ, name := nodeTypeDevice, n.dev.Name
	if name == "" {
		name = n.dev.ID
	}
	if n.node != "" {
		typ, name = nodeTypeNode, n.node
	}
	el.Set("nodeId", n.id())
	el.Set("displayName", name)
	el.Set("nodeType", typ)
	el.Set("state", state)
	el.Set("hasChildren", strconv.FormatBool(children))
	el.Set("isReadable", strconv.FormatBool(readable))
	el.Set("isControllable", strconv.FormatBool(controllable))
	el.Set("hasCommands", "false")
	if n.node != "" {
		el.Set("parentId", n.dev.ID)
	}
	if !n.dev.Since.IsZero() {
		el.Set("lastChanged", n.dev.Since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if params {
		el.Add(xmpp.NewElement(NSConcentrators, "string", "id", "id", "name", "Node ID", "value", n.id()))
		if j := jidOf(n.dev.ID); j != "" {
			el.Add(xmpp.NewElement(NSConcentrators, "string", "id", "jid", "name", "JID", "value", j))
		}
		el.Add(xmpp.NewElement(NSConcentrators, "boolean", "id", "available", "name", "Available", "value", strconv.FormatBool(n.dev.Available)))
	}
}

// jidOf returns the JID of a device, "" when another device holds it.
func (c *Component) jidOf(id string) string {
	if d := c.deviceByID(id); d != nil {
		return d.jid
	}
	return ""
}
