package component

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

// The node tree of the component's own JID has two data sources:
//
//   - SourceID ("MQTT"): the devices as root nodes, their field nodes
//     (Homie nodes, mapping nodes) as children "<device>/<node>";
//   - MappingsSourceID ("MQTTMappings"): one root node, MappingsNodeID,
//     whose children are the topic mappings: those of the configuration
//     ("config-1", …; read-only) and those created over XEP-0326;
//   - BrokersSourceID ("MQTTBrokers"): one root node, BrokersNodeID, whose
//     children are the broker connections: the configuration's
//     (ConfigBrokerNodeID; read-only) and those created over XEP-0326.

// MappingsSourceID is the data source holding the topic mappings.
const MappingsSourceID = "MQTTMappings"

// MappingsNodeID is the root node of MappingsSourceID, the parent of
// every mapping node.
const MappingsNodeID = "mappings"

// BrokersSourceID is the data source holding the broker connections.
const BrokersSourceID = "MQTTBrokers"

// BrokersNodeID is the root node of BrokersSourceID, the parent of every
// broker node.
const BrokersNodeID = "brokers"

// ConfigBrokerNodeID is the node of the configuration's broker
// (mqtt.brokers); mappings may name it, or leave their broker empty.
const ConfigBrokerNodeID = "config"

// brokerNodeID returns the node id of a bridge broker id.
func brokerNodeID(id string) string {
	if id == mqttbridge.MainBrokerID {
		return ConfigBrokerNodeID
	}
	return id
}

// Node types, and the class hierarchy getNodeInheritance reports.
const (
	nodeTypeBase        = "xiot.mqtt.Node"
	nodeTypeDevice      = "xiot.mqtt.Device"
	nodeTypeHomieDevice = "xiot.mqtt.HomieDevice"
	nodeTypeNode        = "xiot.mqtt.FieldNode"
	nodeTypeMappingList = "xiot.mqtt.MappingList"
	nodeTypeMapping     = "xiot.mqtt.TopicMapping"
	nodeTypeBrokerList  = "xiot.mqtt.BrokerList"
	nodeTypeBroker      = "xiot.mqtt.Broker"
)

// baseClasses lists each node type's base classes, nearest first.
var baseClasses = map[string][]string{
	nodeTypeDevice:      {nodeTypeBase},
	nodeTypeHomieDevice: {nodeTypeDevice, nodeTypeBase},
	nodeTypeNode:        {nodeTypeBase},
	nodeTypeMappingList: {nodeTypeBase},
	nodeTypeMapping:     {nodeTypeBase},
	nodeTypeBrokerList:  {nodeTypeBase},
	nodeTypeBroker:      {nodeTypeBase},
}

// Interfaces a node implements, by what it can do.
const (
	ifaceSensor   = "urn:xmpp:iot:sensordata"
	ifaceActuator = "urn:xmpp:iot:control"
)

// tree holds the state of the XEP-0326 interface of the component's own
// JID beyond what the bridge knows: readouts in progress, the node store
// (created mappings, display names) and the event subscriptions.
type tree struct {
	c      *Component
	reads  rootReads
	store  *nodeStore
	events *events
}

// newTree prepares the tree state of c and restores the created nodes.
func newTree(c *Component) (*tree, error) {
	st, err := openNodeStore(c.opts.StateDir)
	if err != nil {
		return nil, err
	}
	t := &tree{c: c, reads: rootReads{jobs: map[string]*sensordata.Server{}}, store: st}
	t.events = newEvents(t)
	// Brokers first: mappings name them.
	for _, b := range st.brokers() {
		if err := c.b.AddBroker(b.ID, b.Broker); err != nil {
			c.log.Error("created broker not restored", "id", b.ID, "err", err)
		}
	}
	for _, m := range st.mappings() {
		if err := c.b.AddMapping(context.Background(), m.ID, m.Mapping); err != nil {
			// Kept in the store: a later version or a fixed configuration
			// may take it again.
			c.log.Error("created mapping not restored", "id", m.ID, "err", err)
		}
	}
	return t, nil
}

// treeNode is a node of the tree.
type treeNode struct {
	src string
	// SourceID: a device, or one of its field nodes.
	dev  mqttbridge.Device
	node string // "" for the device itself
	// MappingsSourceID: a mapping, or nil for MappingsNodeID.
	mp *mqttbridge.Mapping
	// BrokersSourceID: a broker, or nil for BrokersNodeID.
	br *mqttbridge.Broker
}

// knownSource reports whether src is a data source of the tree.
func knownSource(src string) bool {
	return src == SourceID || src == MappingsSourceID || src == BrokersSourceID
}

// lookupNode finds a node by its XEP-0326 source and id.
func (c *Component) lookupNode(source, id string) (treeNode, bool) {
	switch source {
	case MappingsSourceID:
		if id == MappingsNodeID {
			return treeNode{src: source}, true
		}
		if m, ok := c.b.Mapping(id); ok {
			return treeNode{src: source, mp: &m}, true
		}
		return treeNode{}, false
	case BrokersSourceID:
		if id == BrokersNodeID {
			return treeNode{src: source}, true
		}
		bid := id
		if id == ConfigBrokerNodeID {
			bid = mqttbridge.MainBrokerID
		} else if id == mqttbridge.MainBrokerID {
			return treeNode{}, false
		}
		if br, ok := c.b.Broker(bid); ok {
			return treeNode{src: source, br: &br}, true
		}
		return treeNode{}, false
	case SourceID:
	default:
		return treeNode{}, false
	}
	if dev, ok := c.b.Device(id); ok {
		return treeNode{src: source, dev: dev}, true
	}
	// "<device>/<node>": the device id itself may hold slashes.
	for i := strings.LastIndexByte(id, '/'); i > 0; i = strings.LastIndexByte(id[:i], '/') {
		dev, ok := c.b.Device(id[:i])
		if !ok {
			continue
		}
		for _, fn := range nodesOf(dev)[1:] {
			if fn == id[i+1:] {
				return treeNode{src: source, dev: dev, node: fn}, true
			}
		}
	}
	return treeNode{}, false
}

// rootNodes lists the root nodes of a source.
func (c *Component) rootNodes(source string) []treeNode {
	if source == MappingsSourceID || source == BrokersSourceID {
		return []treeNode{{src: source}}
	}
	var out []treeNode
	for _, dev := range c.b.Devices() {
		out = append(out, treeNode{src: source, dev: dev})
	}
	return out
}

// children lists the child nodes of n.
func (c *Component) children(n treeNode) []treeNode {
	var out []treeNode
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		for _, m := range c.b.Mappings() {
			out = append(out, treeNode{src: n.src, mp: &m})
		}
	case n.src == BrokersSourceID && n.br == nil:
		for _, br := range c.b.Brokers() {
			out = append(out, treeNode{src: n.src, br: &br})
		}
	case n.src == SourceID && n.node == "":
		for _, fn := range nodesOf(n.dev)[1:] {
			out = append(out, treeNode{src: n.src, dev: n.dev, node: fn})
		}
	}
	return out
}

// allNodes lists every node of a source, parents before children.
func (c *Component) allNodes(source string) []treeNode {
	var out []treeNode
	for _, r := range c.rootNodes(source) {
		out = append(out, r)
		out = append(out, c.children(r)...)
	}
	return out
}

// id returns the node's XEP-0326 id.
func (n treeNode) id() string {
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		return MappingsNodeID
	case n.src == MappingsSourceID:
		return n.mp.ID
	case n.src == BrokersSourceID && n.br == nil:
		return BrokersNodeID
	case n.src == BrokersSourceID:
		return brokerNodeID(n.br.ID)
	case n.node == "":
		return n.dev.ID
	}
	return n.dev.ID + "/" + n.node
}

// parentID returns the id of the node's parent, "" for a root node.
func (n treeNode) parentID() string {
	switch {
	case n.src == MappingsSourceID && n.mp != nil:
		return MappingsNodeID
	case n.src == BrokersSourceID && n.br != nil:
		return BrokersNodeID
	case n.src == SourceID && n.node != "":
		return n.dev.ID
	}
	return ""
}

// nodeType returns the node's type.
func (n treeNode) nodeType() string {
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		return nodeTypeMappingList
	case n.src == MappingsSourceID:
		return nodeTypeMapping
	case n.src == BrokersSourceID && n.br == nil:
		return nodeTypeBrokerList
	case n.src == BrokersSourceID:
		return nodeTypeBroker
	case n.node != "":
		return nodeTypeNode
	case n.dev.Homie:
		return nodeTypeHomieDevice
	}
	return nodeTypeDevice
}

// derivedFrom reports whether the node's type is class or derives from it.
func (n treeNode) derivedFrom(class string) bool {
	t := n.nodeType()
	return t == class || slices.Contains(baseClasses[t], class)
}

// abilities returns whether the node can be read and controlled.
func (n treeNode) abilities() (readable, controllable bool) {
	if n.src != SourceID {
		return false, false
	}
	for _, f := range n.dev.Fields {
		if f.Node == n.node {
			readable = true
			controllable = controllable || f.Writable
		}
	}
	return readable, controllable
}

// interfaces lists what the node implements beyond its classes: XEP-0323
// readout and XEP-0325 control, by namespace.
func (n treeNode) interfaces() []string {
	r, w := n.abilities()
	var out []string
	if r {
		out = append(out, ifaceSensor)
	}
	if w {
		out = append(out, ifaceActuator)
	}
	return out
}

// state returns the XEP-0326 node state: an unavailable device (and its
// field nodes) and a broker that is not connected are in error.
func (n treeNode) state() string {
	if (n.src == SourceID && !n.dev.Available) || (n.br != nil && !n.br.Connected) {
		return "ErrorUnsigned"
	}
	return "None"
}

// hasChildren reports whether the node has children.
func (n treeNode) hasChildren(c *Component) bool {
	switch {
	case n.src == MappingsSourceID:
		return n.mp == nil && len(c.b.Mappings()) > 0
	case n.src == BrokersSourceID:
		return n.br == nil
	case n.node == "":
		return len(nodesOf(n.dev)) > 1
	}
	return false
}

// displayName returns the name shown for the node: a name given with
// setNodeParametersAfterEdit, the Homie $name, or the id.
func (n treeNode) displayName(c *Component) string {
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		return "Topic mappings"
	case n.src == MappingsSourceID:
		return n.mp.ID + " (" + n.mp.Config.Topic + ")"
	case n.src == BrokersSourceID && n.br == nil:
		return "MQTT brokers"
	case n.src == BrokersSourceID:
		return n.id() + " (" + strings.Join(n.br.URLs, ", ") + ")"
	case n.node != "":
		return n.node
	}
	if name := c.tree.store.name(n.dev.ID); name != "" {
		return name
	}
	if n.dev.Name != "" {
		return n.dev.Name
	}
	return n.dev.ID
}

// element returns the node's node element.
func (n treeNode) element(c *Component, params bool) *xmpp.Element {
	el := xmpp.NewElement(NSConcentrators, "node")
	n.fill(c, el, params)
	return el
}

// fill sets the NodeInformation attributes (and parameters) on el.
func (n treeNode) fill(c *Component, el *xmpp.Element, params bool) {
	readable, controllable := n.abilities()
	el.Set("nodeId", n.id())
	el.Set("displayName", n.displayName(c))
	el.Set("nodeType", n.nodeType())
	el.Set("state", n.state())
	el.Set("hasChildren", strconv.FormatBool(n.hasChildren(c)))
	el.Set("isReadable", strconv.FormatBool(readable))
	el.Set("isControllable", strconv.FormatBool(controllable))
	el.Set("hasCommands", strconv.FormatBool(len(n.commands()) > 0))
	el.Set("parentId", n.parentID())
	if n.src == SourceID && !n.dev.Since.IsZero() {
		el.Set("lastChanged", n.dev.Since.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if params {
		for _, p := range n.parameters(c) {
			el.Add(p)
		}
	}
}

// parameters returns the node's parameters for node information.
func (n treeNode) parameters(c *Component) []*xmpp.Element {
	str := func(id, name, v string) *xmpp.Element {
		return xmpp.NewElement(NSConcentrators, "string", "id", id, "name", name, "value", v)
	}
	out := []*xmpp.Element{str("id", "Node ID", n.id())}
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		out = append(out, xmpp.NewElement(NSConcentrators, "int", "id", "count", "name", "Mappings", "value", strconv.Itoa(len(c.b.Mappings()))))
	case n.src == MappingsSourceID:
		for _, f := range mappingFields {
			if v := f.get(n.mp.Config); v != "" {
				out = append(out, str(f.key, f.label, v))
			}
		}
		out = append(out, xmpp.NewElement(NSConcentrators, "boolean", "id", "runtime", "name", "Created at run time", "value", strconv.FormatBool(n.mp.Runtime)))
	case n.src == BrokersSourceID && n.br == nil:
		out = append(out, xmpp.NewElement(NSConcentrators, "int", "id", "count", "name", "Brokers", "value", strconv.Itoa(len(c.b.Brokers()))))
	case n.src == BrokersSourceID:
		out = append(out, str("url", "Broker URL", strings.Join(n.br.URLs, " ")))
		for _, f := range brokerFields[1:] {
			if v := f.get(n.br.Config); v != "" && f.typ != "text-private" {
				out = append(out, str(f.key, f.label, v))
			}
		}
		out = append(out, xmpp.NewElement(NSConcentrators, "boolean", "id", "connected", "name", "Connected", "value", strconv.FormatBool(n.br.Connected)),
			xmpp.NewElement(NSConcentrators, "boolean", "id", "runtime", "name", "Created at run time", "value", strconv.FormatBool(n.br.ID != mqttbridge.MainBrokerID)))
	default:
		if n.node == "" {
			out = append(out, str("name", "Display name", n.displayName(c)))
		}
		if j := c.jidOf(n.dev.ID); j != "" {
			out = append(out, str("jid", "JID", j))
		}
		out = append(out, str("broker", "Broker", brokerNodeID(n.dev.Broker)))
		out = append(out, xmpp.NewElement(NSConcentrators, "boolean", "id", "available", "name", "Available", "value", strconv.FormatBool(n.dev.Available)))
	}
	return out
}

// ancestors returns n and its ancestors, nearest first.
func (c *Component) ancestors(n treeNode) []treeNode {
	out := []treeNode{n}
	for p := n.parentID(); p != "" && len(out) < 8; {
		pn, ok := c.lookupNode(n.src, p)
		if !ok {
			break
		}
		out = append(out, pn)
		p = pn.parentID()
	}
	return out
}

// jidOf returns the JID of a device, "" when another device holds it or
// in client mode.
func (c *Component) jidOf(id string) string {
	if c.ClientMode() {
		return ""
	}
	if d := c.deviceByID(id); d != nil {
		return d.jid
	}
	return ""
}
