package component

import (
	"context"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
)

// XEP-0326 (Internet of Things - Concentrators, v0.4) on the component's
// own JID: the requests of the schema, answered over the node tree of
// tree.go. Requests other than those of nodeCommands get the
// <…Response result='NotImplemented'/> the XEP asks for.

// NSConcentrators is the XEP-0326 namespace.
const NSConcentrators = "urn:xmpp:iot:concentrators"

// SourceID is the data source holding the MQTT devices.
const SourceID = "MQTT"

// maxNodes bounds one node list answer; larger lists are refused with
// OtherError (XEP-0326 has no paging) rather than cut silently.
const maxNodes = 1000

// maxRefs bounds the node references of one request (containsNodes,
// getNodes, onlyIfDerivedFrom).
const maxRefs = 1000

// nodeCommands are the XEP-0326 commands answered, in getCapabilities
// order.
var nodeCommands = []string{
	"getCapabilities", "getAllDataSources", "getRootDataSources", "getChildDataSources",
	"containsNode", "containsNodes", "getNode", "getNodes", "getAllNodes", "getNodeInheritance",
	"getRootNodes", "getChildNodes",
	"getNodeParametersForEdit", "setNodeParametersAfterEdit",
	"getCommonNodeParametersForEdit", "setCommonNodeParametersAfterEdit",
	"getAddableNodeTypes", "getParametersForNewNode", "createNewNode", "destroyNode",
	"getAncestors", "getNodeCommands", "getCommandParameters", "executeNodeCommand",
	"getCommonNodeCommands", "getCommonCommandParameters", "executeCommonNodeCommand",
	"subscribe", "unsubscribe",
}

// nodeError is a XEP-0326 response code other than OK, with the RFC 6120
// condition sent beside it, and the form errors of FormError.
type nodeError struct {
	code, typ, condition, text string
	form                       []formError
}

// formError is one <error var='…'>text</error> of a FormError response.
type formError struct {
	v, text string
}

func errNodeNotFound(text string) *nodeError {
	return &nodeError{"NotFound", "cancel", "item-not-found", text, nil}
}

func errOther(text string) *nodeError {
	return &nodeError{"OtherError", "cancel", "undefined-condition", text, nil}
}

func errLocked(text string) *nodeError {
	return &nodeError{"Locked", "cancel", "not-allowed", text, nil}
}

func errForm(errs []formError) *nodeError {
	text := ""
	if len(errs) > 0 {
		text = errs[0].v + ": " + errs[0].text
	}
	return &nodeError{"FormError", "modify", "bad-request", text, errs}
}

var (
	errPrivileges = &nodeError{"InsufficientPrivileges", "auth", "forbidden", "Only the concentrator's owners may edit its nodes, and browse them beyond the devices one owns.", nil}
	errNotImpl    = &nodeError{"NotImplemented", "cancel", "feature-not-implemented", "", nil}
)

// registerNodes installs the XEP-0326 handlers on the root mux: every
// command of nodeCommands (as get or set: the XEP's examples use both),
// and NotImplemented for any other element of the namespace.
func (c *Component) registerNodes() {
	for _, cmd := range nodeCommands {
		h := c.nodeHandler(cmd)
		c.root.IQ("get", NSConcentrators, cmd, h)
		c.root.IQ("set", NSConcentrators, cmd, h)
	}
	unknown := xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		return c.nodeHandler(iq.FirstChild().Name.Local).HandleStanza(ctx, s, iq)
	})
	c.root.IQ("get", NSConcentrators, "", unknown)
	c.root.IQ("set", NSConcentrators, "", unknown)
}

// nodeHandler answers one XEP-0326 command: the result with result='OK',
// or an IQ error carrying both the response element with its code (and
// form errors) and the matching RFC 6120 error.
func (c *Component) nodeHandler(cmd string) xmpp.Handler {
	return xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
		resp := xmpp.NewElement(NSConcentrators, cmd+"Response")
		var ne *nodeError
		from, _ := jid.Parse(iq.Get("from"))
		switch {
		case !c.isOwner(from) && (!browsing[cmd] || !c.mayBrowseAny(from)):
			// Others (with provisioning: the claimed owners of devices)
			// browse their devices' nodes and change nothing.
			ne = errPrivileges
		case blocking[cmd]:
			// Waits for the broker: on a goroutine of its own, bounded
			// like sets.
			if !c.startSet() {
				ne = &nodeError{"OtherError", "wait", "resource-constraint", "too many requests in progress", nil}
				break
			}
			go func() {
				defer func() { <-c.sets }()
				rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.SetTimeout)
				defer cancel()
				c.replyNodes(rctx, s, iq, resp, c.answerNodes(rctx, from, cmd, iq.FirstChild(), resp))
			}()
			return nil
		default:
			ne = c.answerNodes(ctx, from, cmd, iq.FirstChild(), resp)
		}
		return c.replyNodes(ctx, s, iq, resp, ne)
	})
}

// blocking are the commands that wait for the MQTT broker.
var blocking = map[string]bool{"createNewNode": true, "destroyNode": true, "setNodeParametersAfterEdit": true,
	"setCommonNodeParametersAfterEdit": true, "executeNodeCommand": true, "executeCommonNodeCommand": true}

// replyNodes sends the answer of a command: resp with result OK, or the
// error of ne.
func (c *Component) replyNodes(ctx context.Context, s *xmpp.Session, iq, resp *xmpp.Element, ne *nodeError) error {
	if ne == nil {
		resp.Set("result", "OK")
		return s.Send(ctx, xmpp.ResultIQ(iq, resp))
	}
	r := xmpp.ErrorReply(iq, xmpp.NewStanzaError(ne.typ, ne.condition, ne.text))
	er := xmpp.NewElement(NSConcentrators, resp.Name.Local, "result", ne.code)
	for _, fe := range ne.form {
		er.Add(xmpp.NewElement(NSConcentrators, "error", "var", fe.v).AddText(fe.text))
	}
	r.Add(er)
	return s.Send(ctx, r)
}

// boolAttr reads an xs:boolean attribute, def when absent.
func boolAttr(el *xmpp.Element, name string, def bool) bool {
	switch el.Get(name) {
	case "true", "1":
		return true
	case "false", "0":
		return false
	}
	return def
}

// dataSource returns the dataSource element of a source.
func dataSource(id string) *xmpp.Element {
	name := "MQTT devices"
	switch id {
	case MappingsSourceID:
		name = "MQTT topic mappings"
	case BrokersSourceID:
		name = "MQTT brokers"
	}
	return xmpp.NewElement(NSConcentrators, "dataSource", "sourceId", id, "name", name, "hasChildren", "false")
}

// nodeRefs returns the node children of req (at most maxRefs).
func nodeRefs(req *xmpp.Element) ([]*xmpp.Element, *nodeError) {
	var out []*xmpp.Element
	for _, n := range req.Children() {
		if n.Name.Local != "node" {
			continue
		}
		if len(out) == maxRefs {
			return nil, errOther("more than " + strconv.Itoa(maxRefs) + " nodes in one request")
		}
		out = append(out, n)
	}
	return out, nil
}

// answerNodes fills resp for cmd from from, or returns why not.
func (c *Component) answerNodes(ctx context.Context, from jid.JID, cmd string, req, resp *xmpp.Element) *nodeError {
	params := boolAttr(req, "parameters", false)
	src := req.Get("sourceId")
	switch cmd {
	case "getCapabilities":
		for _, v := range nodeCommands {
			resp.Add(xmpp.NewElement(NSConcentrators, "value").AddText(v))
		}
		return nil
	case "getAllDataSources", "getRootDataSources":
		resp.Add(dataSource(SourceID))
		if c.isOwner(from) {
			resp.Add(dataSource(MappingsSourceID), dataSource(BrokersSourceID))
		}
		return nil
	case "getChildDataSources":
		if src != SourceID && (!knownSource(src) || !c.isOwner(from)) {
			return errNodeNotFound("no data source " + strconv.Quote(src))
		}
		return nil
	case "containsNode":
		n, ok := c.lookupNode(src, req.Get("nodeId"))
		resp.AddText(strconv.FormatBool(ok && c.mayBrowse(from, n)))
		return nil
	case "containsNodes":
		refs, ne := nodeRefs(req)
		if ne != nil {
			return ne
		}
		for _, el := range refs {
			n, ok := c.lookupNode(el.Get("sourceId"), el.Get("nodeId"))
			resp.Add(xmpp.NewElement(NSConcentrators, "value").AddText(strconv.FormatBool(ok && c.mayBrowse(from, n))))
		}
		return nil
	case "getNodes":
		refs, ne := nodeRefs(req)
		if ne != nil {
			return ne
		}
		for _, el := range refs {
			n, ok := c.lookupNode(el.Get("sourceId"), el.Get("nodeId"))
			if ok && !c.mayBrowse(from, n) {
				return errPrivileges
			}
			if !ok {
				return errNodeNotFound("no node " + strconv.Quote(el.Get("nodeId")) + " in data source " + strconv.Quote(el.Get("sourceId")))
			}
			resp.Add(n.element(c, params))
		}
		return nil
	case "getAllNodes", "getRootNodes":
		if !knownSource(src) {
			return errNodeNotFound("no data source " + strconv.Quote(src))
		}
		if src != SourceID && !c.isOwner(from) {
			return errPrivileges
		}
		if cmd == "getRootNodes" {
			return addNodes(c, resp, c.visible(from, c.rootNodes(src)), params)
		}
		var classes []string
		for _, el := range req.Children() {
			if el.Name.Local == "onlyIfDerivedFrom" && len(classes) < maxRefs {
				classes = append(classes, el.Text())
			}
		}
		nodes := c.allNodes(src)
		if len(classes) > 0 {
			kept := nodes[:0]
			for _, n := range nodes {
				for _, cl := range classes {
					if n.derivedFrom(cl) {
						kept = append(kept, n)
						break
					}
				}
			}
			nodes = kept
		}
		return addNodes(c, resp, c.visible(from, nodes), params)
	case "getCommonNodeParametersForEdit":
		nodes, ne := c.commonNodes(req)
		if ne != nil {
			return ne
		}
		resp.Add(c.commonForm(nodes))
		return nil
	case "setCommonNodeParametersAfterEdit":
		return c.setCommonParameters(ctx, req, resp)
	case "getCommonNodeCommands", "getCommonCommandParameters", "executeCommonNodeCommand":
		nodes, ne := c.commonNodes(req)
		if ne != nil {
			return ne
		}
		switch cmd {
		case "getCommonNodeCommands":
			for _, cm := range commonCommands(nodes) {
				resp.Add(cm.element())
			}
			return nil
		case "getCommonCommandParameters":
			return c.commonCommandParameters(nodes, req.Get("command"), resp)
		}
		return c.executeCommonCommand(ctx, nodes, req, resp)
	}
	// The rest address one node.
	n, ok := c.lookupNode(src, req.Get("nodeId"))
	if !ok && cmd != "unsubscribe" && cmd != "subscribe" && !isUnknown(cmd) {
		return errNodeNotFound("no node " + strconv.Quote(req.Get("nodeId")) + " in data source " + strconv.Quote(src))
	}
	if ok && !c.mayBrowse(from, n) {
		return errPrivileges
	}
	switch cmd {
	case "getNode":
		n.fill(c, resp, params)
	case "getChildNodes":
		return addNodes(c, resp, c.children(n), params)
	case "getAncestors":
		return addNodes(c, resp, c.ancestors(n), params)
	case "getNodeInheritance":
		bc := xmpp.NewElement(NSConcentrators, "baseClasses")
		for _, b := range baseClasses[n.nodeType()] {
			bc.Add(xmpp.NewElement(NSConcentrators, "value").AddText(b))
		}
		resp.Add(bc)
		if ifs := n.interfaces(); len(ifs) > 0 {
			ie := xmpp.NewElement(NSConcentrators, "interfaces")
			for _, i := range ifs {
				ie.Add(xmpp.NewElement(NSConcentrators, "value").AddText(i))
			}
			resp.Add(ie)
		}
	case "getNodeParametersForEdit":
		resp.Add(c.editForm(n))
	case "setNodeParametersAfterEdit":
		return c.setParameters(ctx, n, req, resp)
	case "getAddableNodeTypes":
		for _, t := range addableTypes(n) {
			resp.Add(xmpp.NewElement(NSConcentrators, "nodeType", "type", t, "name", nodeTypeNames[t]))
		}
	case "getParametersForNewNode":
		if !addable(n, req.Get("type")) {
			return errNodeNotFound("no node type " + strconv.Quote(req.Get("type")) + " can be added to " + strconv.Quote(n.id()))
		}
		resp.Add(newNodeForm(req.Get("type")))
	case "createNewNode":
		if !addable(n, req.Get("type")) {
			return errNodeNotFound("no node type " + strconv.Quote(req.Get("type")) + " can be added to " + strconv.Quote(n.id()))
		}
		return c.createNode(ctx, req.Get("type"), req, resp)
	case "destroyNode":
		return c.destroyNode(ctx, n)
	case "getNodeCommands":
		for _, cmd := range n.commands() {
			resp.Add(cmd.element())
		}
	case "getCommandParameters":
		return c.commandParameters(n, req.Get("command"), resp)
	case "executeNodeCommand":
		return c.executeCommand(ctx, n, req)
	case "subscribe":
		return c.tree.events.subscribe(from, req)
	case "unsubscribe":
		return c.tree.events.unsubscribe(from, req)
	default:
		return errNotImpl
	}
	return nil
}

// isUnknown reports whether cmd is no command of nodeCommands.
func isUnknown(cmd string) bool {
	for _, c := range nodeCommands {
		if c == cmd {
			return false
		}
	}
	return true
}

// addNodes adds node elements to resp, refusing lists beyond maxNodes.
func addNodes(c *Component, resp *xmpp.Element, nodes []treeNode, params bool) *nodeError {
	if len(nodes) > maxNodes {
		return &nodeError{"OtherError", "wait", "resource-constraint",
			strconv.Itoa(len(nodes)) + " nodes are more than one answer carries (" + strconv.Itoa(maxNodes) + "): use getRootNodes and getChildNodes", nil}
	}
	for _, n := range nodes {
		resp.Add(n.element(c, params))
	}
	return nil
}
