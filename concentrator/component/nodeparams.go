package component

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// Node parameters (XEP-0326 §"Node Parameters") and the creation and
// destruction of nodes, over XEP-0004 forms: a device's display name,
// the settings of a topic mapping created at run time. Read-only fields
// carry the XEP-0336 readOnly flag, and a submitted form that changes one
// is refused with FormError, as are invalid values.

// maxFormValue bounds one submitted value.
const maxFormValue = 1024

// maxNameLen bounds a display name, in characters.
const maxNameLen = 64

// mappingField is one key of config.MQTTMapping in forms and parameters.
type mappingField struct {
	key, label, desc string
	options          []string // list-single choices, "" included when optional
	required         bool
	get              func(config.MQTTMapping) string
	set              func(*config.MQTTMapping, string)
}

// mappingFields are the mapping's settings, named by their configuration
// keys (internal/config/example.yaml documents them).
var mappingFields = []mappingField{
	{key: "topic", label: "Topic pattern", desc: "MQTT topic with {device}, {node} and {field} levels, e.g. tele/{device}/SENSOR.", required: true,
		get: func(m config.MQTTMapping) string { return m.Topic }, set: func(m *config.MQTTMapping, v string) { m.Topic = v }},
	{key: "device", label: "Device", desc: "Device id when the topic has no {device} level.",
		get: func(m config.MQTTMapping) string { return m.Device }, set: func(m *config.MQTTMapping, v string) { m.Device = v }},
	{key: "node", label: "Node", desc: "Field node of the values; empty: the device itself.",
		get: func(m config.MQTTMapping) string { return m.Node }, set: func(m *config.MQTTMapping, v string) { m.Node = v }},
	{key: "field", label: "Field", desc: "Field name; empty: the {field} level, the SenML name or the topic's last level.",
		get: func(m config.MQTTMapping) string { return m.Field }, set: func(m *config.MQTTMapping, v string) { m.Field = v }},
	{key: "decoder", label: "Payload format", options: []string{config.DecoderPlain, config.DecoderJSON, config.DecoderSenMLJSON, config.DecoderSenMLCBOR},
		get: func(m config.MQTTMapping) string { return m.Decoder }, set: func(m *config.MQTTMapping, v string) { m.Decoder = v }},
	{key: "path", label: "JSON path", desc: "Value of the json format, e.g. ENERGY.Power.",
		get: func(m config.MQTTMapping) string { return m.Path }, set: func(m *config.MQTTMapping, v string) { m.Path = v }},
	{key: "type", label: "Value type", options: []string{"", "numeric", "boolean", "int", "long", "string", "enum", "date", "dateTime", "time", "duration"},
		get: func(m config.MQTTMapping) string { return m.Type }, set: func(m *config.MQTTMapping, v string) { m.Type = v }},
	{key: "unit", label: "Unit", desc: "Unit of numeric values, replacing the payload's.",
		get: func(m config.MQTTMapping) string { return m.Unit }, set: func(m *config.MQTTMapping, v string) { m.Unit = v }},
	{key: "command_topic", label: "Command topic", desc: "Makes the field writable: a set publishes here.",
		get: func(m config.MQTTMapping) string { return m.CommandTopic }, set: func(m *config.MQTTMapping, v string) { m.CommandTopic = v }},
	{key: "command_payload", label: "Command payload", desc: "Template; {value} is the new value.",
		get: func(m config.MQTTMapping) string { return m.CommandPayload }, set: func(m *config.MQTTMapping, v string) { m.CommandPayload = v }},
	{key: "payload_on", label: "Payload for true",
		get: func(m config.MQTTMapping) string { return m.PayloadOn }, set: func(m *config.MQTTMapping, v string) { m.PayloadOn = v }},
	{key: "payload_off", label: "Payload for false",
		get: func(m config.MQTTMapping) string { return m.PayloadOff }, set: func(m *config.MQTTMapping, v string) { m.PayloadOff = v }},
	{key: "availability_topic", label: "Availability topic", desc: "The device's availability (LWT) topic, e.g. tele/{device}/LWT.",
		get: func(m config.MQTTMapping) string { return m.AvailabilityTopic }, set: func(m *config.MQTTMapping, v string) { m.AvailabilityTopic = v }},
	{key: "payload_available", label: "Payload when available",
		get: func(m config.MQTTMapping) string { return m.PayloadAvailable }, set: func(m *config.MQTTMapping, v string) { m.PayloadAvailable = v }},
	{key: "payload_not_available", label: "Payload when unavailable",
		get: func(m config.MQTTMapping) string { return m.PayloadNotAvailable }, set: func(m *config.MQTTMapping, v string) { m.PayloadNotAvailable = v }},
	{key: "broker", label: "Broker", desc: "Broker node (data source MQTTBrokers) to subscribe on; empty or config: the configuration's broker.",
		get: func(m config.MQTTMapping) string { return m.Broker }, set: func(m *config.MQTTMapping, v string) {
			if v == ConfigBrokerNodeID {
				v = ""
			}
			m.Broker = v
		}},
}

// brokerField is one key of config.MQTTBroker in forms and parameters.
type brokerField struct {
	key, label, desc, typ string
	required              bool
	get                   func(config.MQTTBroker) string
	set                   func(*config.MQTTBroker, string) string // returns why v is refused, or ""
}

// setBool parses a boolean form value into *p.
func setBool(p *bool, v string) string {
	if v == "" {
		*p = false
		return ""
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return "not a boolean: " + strconv.Quote(v)
	}
	*p = b
	return ""
}

// brokerFields are the settings of a broker node (config.MQTTBroker). The
// password is write-only: forms show it empty, and an empty password in
// a submitted edit keeps the one set.
var brokerFields = []brokerField{
	{key: "url", label: "Broker URL", desc: "tcp://, mqtt://, ssl://, mqtts://, ws:// or wss:// with host and port.", required: true,
		get: func(b config.MQTTBroker) string { return b.URL }, set: func(b *config.MQTTBroker, v string) string { b.URL = v; return "" }},
	{key: "client_id", label: "Client id", desc: "Session id at the broker; empty: the concentrator's, followed by - and the node id.",
		get: func(b config.MQTTBroker) string { return b.ClientID }, set: func(b *config.MQTTBroker, v string) string { b.ClientID = v; return "" }},
	{key: "username", label: "User name",
		get: func(b config.MQTTBroker) string { return b.Username }, set: func(b *config.MQTTBroker, v string) string { b.Username = v; return "" }},
	{key: "password", label: "Password", typ: "text-private", desc: "Kept in the concentrator's node store (mode 0600), never shown; empty in an edit keeps it.",
		get: func(config.MQTTBroker) string { return "" }, set: func(b *config.MQTTBroker, v string) string {
			if v != "" {
				b.Password = v
			}
			return ""
		}},
	{key: "ca_file", label: "CA file", desc: "PEM bundle on the concentrator's host replacing the system roots for TLS.",
		get: func(b config.MQTTBroker) string { return b.CAFile }, set: func(b *config.MQTTBroker, v string) string { b.CAFile = v; return "" }},
	{key: "tls_server_name", label: "TLS server name", desc: "Name verified in the broker's certificate; empty: the URL's host.",
		get: func(b config.MQTTBroker) string { return b.TLSServerName }, set: func(b *config.MQTTBroker, v string) string { b.TLSServerName = v; return "" }},
	{key: "clean_session", label: "Clean session", typ: "boolean", desc: "Forget the session at each disconnection (default: a persistent session).",
		get: func(b config.MQTTBroker) string { return strconv.FormatBool(b.CleanSession) }, set: func(b *config.MQTTBroker, v string) string { return setBool(&b.CleanSession, v) }},
	{key: "homie", label: "Homie discovery", typ: "boolean", desc: "Discover the Homie v4 devices on this broker.",
		get: func(b config.MQTTBroker) string { return strconv.FormatBool(b.Homie) }, set: func(b *config.MQTTBroker, v string) string { return setBool(&b.Homie, v) }},
	{key: "homie_base", label: "Homie base topic", desc: "Empty: homie.",
		get: func(b config.MQTTBroker) string { return b.HomieBase }, set: func(b *config.MQTTBroker, v string) string { b.HomieBase = v; return "" }},
}

// formField is one field of a parameter form.
type formField struct {
	v, typ, label, desc string
	value               string
	options             []string
	required, readOnly  bool
}

// buildForm returns a XEP-0004 form of type "form".
func buildForm(title string, fields []formField) *xmpp.Element {
	x := xmpp.NewElement(iotcontrol.NSData, "x", "type", "form")
	x.Add(xmpp.NewElement(iotcontrol.NSData, "title").AddText(title))
	for _, f := range fields {
		typ := f.typ
		if typ == "" {
			typ = "text-single"
			if len(f.options) > 0 {
				typ = "list-single"
			}
		}
		el := xmpp.NewElement(iotcontrol.NSData, "field", "var", f.v, "type", typ, "label", f.label)
		if f.desc != "" {
			el.Add(xmpp.NewElement(iotcontrol.NSData, "desc").AddText(f.desc))
		}
		if f.required {
			el.Add(xmpp.NewElement(iotcontrol.NSData, "required"))
		}
		el.Add(xmpp.NewElement(iotcontrol.NSData, "value").AddText(f.value))
		for _, o := range f.options {
			label := o
			if o == "" {
				label = "(from the payload)"
			}
			el.Add(xmpp.NewElement(iotcontrol.NSData, "option", "label", label).Add(xmpp.NewElement(iotcontrol.NSData, "value").AddText(o)))
		}
		if f.readOnly {
			el.Add(xmpp.NewElement(iotcontrol.NSDynamic, "readOnly"))
		}
		x.Add(el)
	}
	return x
}

// submitted reads the submitted form of req: var → value. Fields with
// more than one value, or values too long, are form errors.
func submitted(req *xmpp.Element) (map[string]string, *nodeError) {
	x := req.Child(iotcontrol.NSData, "x")
	if x == nil {
		return nil, errForm([]formError{{"", "no data form (jabber:x:data) in the request"}})
	}
	if t := x.Get("type"); t != "submit" {
		return nil, errForm([]formError{{"", "data form of type " + strconv.Quote(t) + ", want submit"}})
	}
	f, err := iotcontrol.ParseForm(x)
	if err != nil {
		return nil, errForm([]formError{{"", err.Error()}})
	}
	out := map[string]string{}
	var errs []formError
	for _, fd := range f.Fields {
		if len(out) >= 64 {
			errs = append(errs, formError{fd.Var, "too many fields"})
			break
		}
		v := ""
		switch len(fd.Values) {
		case 0:
		case 1:
			v = fd.Values[0]
		default:
			errs = append(errs, formError{fd.Var, "more than one value"})
			continue
		}
		if len(v) > maxFormValue {
			errs = append(errs, formError{fd.Var, "longer than " + strconv.Itoa(maxFormValue) + " bytes"})
			continue
		}
		out[fd.Var] = strings.TrimSpace(v)
	}
	if len(errs) > 0 {
		return nil, errForm(errs)
	}
	return out, nil
}

// editFields returns the parameter fields of a node.
func (c *Component) editFields(n treeNode) []formField {
	fields := []formField{
		{v: "id", label: "Node ID", value: n.id(), readOnly: true},
		{v: "type", label: "Node type", value: n.nodeType(), readOnly: true},
	}
	switch {
	case n.src == SourceID && n.node == "":
		fields = append(fields, formField{v: "jid", label: "JID", value: c.jidOf(n.dev.ID), readOnly: true},
			formField{v: "name", label: "Display name", desc: "Name shown for the device; empty: its own name or id.", value: c.tree.store.name(n.dev.ID)})
	case n.src == MappingsSourceID && n.mp != nil:
		for _, mf := range mappingFields {
			fields = append(fields, formField{v: mf.key, label: mf.label, desc: mf.desc, options: mf.options, required: mf.required,
				value: mf.get(n.mp.Config), readOnly: !n.mp.Runtime})
		}
	case n.src == BrokersSourceID && n.br != nil && n.br.ID == mqttbridge.MainBrokerID:
		fields = append(fields, formField{v: "url", label: "Broker URLs", value: strings.Join(n.br.URLs, " "), readOnly: true})
	case n.src == BrokersSourceID && n.br != nil:
		fields = append(fields, brokerFormFields(n.br.Config)...)
	}
	return fields
}

// brokerFormFields returns the form fields of broker settings.
func brokerFormFields(bc config.MQTTBroker) []formField {
	var out []formField
	for _, bf := range brokerFields {
		out = append(out, formField{v: bf.key, typ: bf.typ, label: bf.label, desc: bf.desc, required: bf.required, value: bf.get(bc)})
	}
	return out
}

// brokerFromForm applies submitted values to bc; it returns the values'
// form errors.
func brokerFromForm(bc *config.MQTTBroker, vals map[string]string) []formError {
	var errs []formError
	for _, bf := range brokerFields {
		if v, ok := vals[bf.key]; ok {
			if why := bf.set(bc, v); why != "" {
				errs = append(errs, formError{bf.key, why})
			}
		}
	}
	return errs
}

// editForm returns the parameter form of a node.
func (c *Component) editForm(n treeNode) *xmpp.Element {
	return buildForm(n.displayName(c), c.editFields(n))
}

// commonForm returns the form of the parameters common to nodes: those
// every node has with the same label, type and choices, without the ids;
// a parameter whose values differ is flagged notSame (XEP-0336) and shows
// the first node's value.
func (c *Component) commonForm(nodes []treeNode) *xmpp.Element {
	var common []formField
	var notSame []string
	for i, n := range nodes {
		fields := c.editFields(n)
		if i == 0 {
			for _, f := range fields {
				if f.v != "id" {
					common = append(common, f)
				}
			}
			continue
		}
		kept := common[:0]
		for _, f := range common {
			j := slices.IndexFunc(fields, func(g formField) bool {
				return g.v == f.v && g.label == f.label && g.typ == f.typ && slices.Equal(g.options, f.options)
			})
			if j < 0 {
				continue
			}
			if fields[j].value != f.value && !slices.Contains(notSame, f.v) {
				notSame = append(notSame, f.v)
			}
			f.readOnly = f.readOnly || fields[j].readOnly
			kept = append(kept, f)
		}
		common = kept
	}
	x := buildForm(strconv.Itoa(len(nodes))+" nodes", common)
	for _, f := range x.Children() {
		if f.Name.Local == "field" && slices.Contains(notSame, f.Get("var")) {
			f.Add(xmpp.NewElement(iotcontrol.NSDynamic, "notSame"))
		}
	}
	return x
}

// paramChange is a validated change of one node's parameters, ready to
// apply.
type paramChange struct {
	n       treeNode
	name    *string             // new display name
	mapping *config.MQTTMapping // new mapping settings
	broker  *config.MQTTBroker  // new broker settings
}

// checkParameters validates submitted values for n and returns the change
// to make, or the form errors.
func (c *Component) checkParameters(n treeNode, vals map[string]string) (paramChange, []formError) {
	ch := paramChange{n: n}
	cur := map[string]formField{}
	for _, f := range c.editFields(n) {
		cur[f.v] = f
	}
	var errs []formError
	for v, val := range vals {
		f, ok := cur[v]
		switch {
		case !ok:
			errs = append(errs, formError{v, "no such parameter"})
		case f.readOnly && val != f.value:
			why := "read-only"
			if n.mp != nil && !n.mp.Runtime {
				why = "read-only: the mapping is defined in the configuration file; edit it there"
			}
			if n.br != nil && n.br.ID == mqttbridge.MainBrokerID {
				why = "read-only: the broker is defined in the configuration file (mqtt.brokers); edit it there"
			}
			errs = append(errs, formError{v, why})
		}
	}
	if len(errs) > 0 {
		return ch, errs
	}
	switch {
	case n.src == SourceID && n.node == "":
		if name, ok := vals["name"]; ok {
			if why := checkName(name); why != "" {
				return ch, []formError{{"name", why}}
			}
			ch.name = &name
		}
	case n.src == MappingsSourceID && n.mp != nil && n.mp.Runtime:
		mc := n.mp.Config
		for _, mf := range mappingFields {
			if v, ok := vals[mf.key]; ok {
				mf.set(&mc, v)
			}
		}
		if err := c.b.CheckMapping(n.mp.ID, mc); err != nil {
			if ne := mappingFault(err); ne.form != nil {
				return ch, ne.form
			}
			return ch, []formError{{"", err.Error()}}
		}
		ch.mapping = &mc
	case n.src == BrokersSourceID && n.br != nil && n.br.ID != mqttbridge.MainBrokerID:
		bc := n.br.Config
		if errs := brokerFromForm(&bc, vals); len(errs) > 0 {
			return ch, errs
		}
		if err := c.b.CheckBroker(n.br.ID, bc); err != nil {
			return ch, brokerFault(err).form
		}
		ch.broker = &bc
	}
	return ch, nil
}

// applyParameters makes a validated change and returns the node as it
// is now.
func (c *Component) applyParameters(ctx context.Context, ch paramChange) (treeNode, *nodeError) {
	n := ch.n
	if ch.name != nil {
		if err := c.tree.store.setName(n.dev.ID, *ch.name); err != nil {
			return n, errOther(err.Error())
		}
		n.dev, _ = c.b.Device(n.dev.ID)
		c.tree.events.changed(n, "")
	}
	if ch.mapping != nil {
		if err := c.b.UpdateMapping(ctx, n.mp.ID, *ch.mapping); err != nil {
			return n, mappingFault(err)
		}
		m, _ := c.b.Mapping(n.mp.ID)
		if err := c.tree.store.putMapping(m.ID, m.Config); err != nil {
			return n, errOther("changed, but the node store was not updated, so the change is lost at the next start: " + err.Error())
		}
		n.mp = &m
		c.tree.events.changed(n, "")
	}
	if ch.broker != nil {
		if err := c.b.UpdateBroker(n.br.ID, *ch.broker); err != nil {
			return n, brokerFault(err)
		}
		if err := c.tree.store.putBroker(n.br.ID, *ch.broker); err != nil {
			return n, errOther("changed, but the node store was not updated, so the change is lost at the next start: " + err.Error())
		}
		br, _ := c.b.Broker(n.br.ID)
		n.br = &br
		c.tree.events.changed(n, "")
	}
	return n, nil
}

// sortErrors orders form errors by field.
func sortErrors(errs []formError) []formError {
	slices.SortFunc(errs, func(a, b formError) int { return strings.Compare(a.v, b.v) })
	return slices.CompactFunc(errs, func(a, b formError) bool { return a.v == b.v })
}

// setParameters applies a submitted parameter form to n.
func (c *Component) setParameters(ctx context.Context, n treeNode, req, resp *xmpp.Element) *nodeError {
	vals, ne := submitted(req)
	if ne != nil {
		return ne
	}
	ch, errs := c.checkParameters(n, vals)
	if len(errs) > 0 {
		return errForm(sortErrors(errs))
	}
	n, ne = c.applyParameters(ctx, ch)
	if ne != nil {
		return ne
	}
	resp.Add(n.element(c, true))
	return nil
}

// commonNodes returns the nodes a common request names, or why not.
func (c *Component) commonNodes(req *xmpp.Element) ([]treeNode, *nodeError) {
	refs, ne := nodeRefs(req)
	if ne != nil {
		return nil, ne
	}
	if len(refs) == 0 {
		return nil, errNodeNotFound("no nodes named")
	}
	var nodes []treeNode
	for _, r := range refs {
		n, ok := c.lookupNode(r.Get("sourceId"), r.Get("nodeId"))
		if !ok {
			return nil, errNodeNotFound("no node " + strconv.Quote(r.Get("nodeId")) + " in data source " + strconv.Quote(r.Get("sourceId")))
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// setCommonParameters applies a submitted form to every node named: all
// nodes are checked first, and nothing is changed when one refuses.
func (c *Component) setCommonParameters(ctx context.Context, req, resp *xmpp.Element) *nodeError {
	nodes, ne := c.commonNodes(req)
	if ne != nil {
		return ne
	}
	vals, ne := submitted(req)
	if ne != nil {
		return ne
	}
	if _, ok := vals["id"]; ok {
		return errForm([]formError{{"id", "Parameter not available: ids cannot be set for a collection of nodes."}})
	}
	var changes []paramChange
	var errs []formError
	for _, n := range nodes {
		ch, e := c.checkParameters(n, vals)
		errs = append(errs, e...)
		changes = append(changes, ch)
	}
	if len(errs) > 0 {
		return errForm(sortErrors(errs))
	}
	for _, ch := range changes {
		n, ne := c.applyParameters(ctx, ch)
		if ne != nil {
			return ne
		}
		resp.Add(n.element(c, true))
	}
	return nil
}

// checkName returns why a display name is refused, or "".
func checkName(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case utf8.RuneCountInString(s) > maxNameLen:
		return "longer than " + strconv.Itoa(maxNameLen) + " characters"
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "must not contain control characters"
	}
	return ""
}

// mappingFault maps a refusal of the bridge to the XEP's response.
func mappingFault(err error) *nodeError {
	var me *mqttbridge.MappingError
	switch {
	case errors.As(err, &me):
		return errForm(problemErrors(me.Problems))
	case errors.Is(err, mqttbridge.ErrMappingExists):
		return errForm([]formError{{"id", "a mapping with this id exists already"}})
	case errors.Is(err, mqttbridge.ErrConfigMapping):
		return errLocked("the mapping is defined in the configuration file; edit or remove it there")
	case errors.Is(err, mqttbridge.ErrUnknownMapping):
		return errNodeNotFound(err.Error())
	}
	return errOther(err.Error())
}

// problemErrors returns the bridge's problems by key as form errors,
// sorted by field.
func problemErrors(probs map[string]string) []formError {
	var errs []formError
	for k, v := range probs {
		errs = append(errs, formError{k, v})
	}
	return sortErrors(errs)
}

// brokerFault maps a refusal of the bridge's broker functions to the
// XEP's response.
func brokerFault(err error) *nodeError {
	var be *mqttbridge.BrokerError
	switch {
	case errors.As(err, &be):
		return errForm(problemErrors(be.Problems))
	case errors.Is(err, mqttbridge.ErrBrokerExists):
		return errForm([]formError{{"id", "a broker with this id exists already"}})
	case errors.Is(err, mqttbridge.ErrBrokerInUse):
		return errLocked(err.Error() + "; destroy or move those mappings first")
	case errors.Is(err, mqttbridge.ErrUnknownBroker):
		return errNodeNotFound(err.Error())
	}
	return errOther(err.Error())
}

// nodeTypeNames are the names getAddableNodeTypes gives the types.
var nodeTypeNames = map[string]string{nodeTypeMapping: "Topic mapping", nodeTypeBroker: "MQTT broker"}

// addableTypes lists the node types that can be added under n.
func addableTypes(n treeNode) []string {
	switch {
	case n.src == MappingsSourceID && n.mp == nil:
		return []string{nodeTypeMapping}
	case n.src == BrokersSourceID && n.br == nil:
		return []string{nodeTypeBroker}
	}
	return nil
}

// newNodeForm is the form of a new node of type typ.
func newNodeForm(typ string) *xmpp.Element {
	if typ == nodeTypeBroker {
		fields := []formField{{v: "id", label: "Node ID", desc: "Id of the new broker node (not starting with config); mappings name it in their broker parameter.", required: true}}
		return buildForm("New MQTT broker", append(fields, brokerFormFields(config.MQTTBroker{})...))
	}
	return newMappingForm()
}

// createNode creates a node of type typ from the submitted form.
func (c *Component) createNode(ctx context.Context, typ string, req, resp *xmpp.Element) *nodeError {
	if typ == nodeTypeBroker {
		return c.createBroker(req, resp)
	}
	return c.createMapping(ctx, req, resp)
}

// createBroker creates a broker node from the submitted form, persists it
// and answers the new node; the connection is made in the background (the
// node's state tells whether it is up).
func (c *Component) createBroker(req, resp *xmpp.Element) *nodeError {
	vals, ne := submitted(req)
	if ne != nil {
		return ne
	}
	var errs []formError
	for v := range vals {
		if v != "id" && v != iotcontrol.SessionVar && !slices.ContainsFunc(brokerFields, func(f brokerField) bool { return f.key == v }) {
			errs = append(errs, formError{v, "no such parameter"})
		}
	}
	var bc config.MQTTBroker
	errs = append(errs, brokerFromForm(&bc, vals)...)
	id := vals["id"]
	if id == BrokersNodeID {
		errs = append(errs, formError{"id", "is the id of the list of brokers"})
	}
	if err := c.b.CheckBroker(id, bc); err != nil {
		if ne := brokerFault(err); ne.form != nil {
			errs = append(errs, ne.form...)
		}
	}
	if len(errs) > 0 {
		return errForm(sortErrors(errs))
	}
	if err := c.b.AddBroker(id, bc); err != nil {
		return brokerFault(err)
	}
	if err := c.tree.store.putBroker(id, bc); err != nil {
		_ = c.b.RemoveBroker(id)
		return errOther("not created: " + err.Error())
	}
	c.log.Info("broker node created", "id", id, "url", bc.URL)
	br, _ := c.b.Broker(id)
	n := treeNode{src: BrokersSourceID, br: &br}
	c.tree.events.added(n)
	resp.Add(n.element(c, true))
	return nil
}

// addable reports whether a node of type typ can be added under n.
func addable(n treeNode, typ string) bool { return slices.Contains(addableTypes(n), typ) }

// newMappingForm is the form of a new topic mapping.
func newMappingForm() *xmpp.Element {
	fields := []formField{{v: "id", label: "Node ID", desc: "Id of the new mapping node (not starting with config-).", required: true}}
	def := config.MQTT{Mappings: []config.MQTTMapping{{}}}.WithDefaults().Mappings[0]
	for _, mf := range mappingFields {
		fields = append(fields, formField{v: mf.key, label: mf.label, desc: mf.desc, options: mf.options, required: mf.required, value: mf.get(def)})
	}
	return buildForm("New topic mapping", fields)
}

// createMapping creates a mapping node from the submitted form, persists
// it and answers the new node.
func (c *Component) createMapping(ctx context.Context, req, resp *xmpp.Element) *nodeError {
	vals, ne := submitted(req)
	if ne != nil {
		return ne
	}
	var mc config.MQTTMapping
	var errs []formError
	for v := range vals {
		if v != "id" && v != iotcontrol.SessionVar && !slices.ContainsFunc(mappingFields, func(f mappingField) bool { return f.key == v }) {
			errs = append(errs, formError{v, "no such parameter"})
		}
	}
	if len(errs) > 0 {
		return errForm(errs)
	}
	for _, mf := range mappingFields {
		mf.set(&mc, vals[mf.key])
	}
	id := vals["id"]
	if id == MappingsNodeID {
		return errForm([]formError{{"id", "is the id of the list of mappings"}})
	}
	if err := c.b.AddMapping(ctx, id, mc); err != nil {
		return mappingFault(err)
	}
	m, _ := c.b.Mapping(id)
	if err := c.tree.store.putMapping(m.ID, m.Config); err != nil {
		_ = c.b.RemoveMapping(ctx, id)
		return errOther("not created: " + err.Error())
	}
	c.log.Info("mapping node created", "id", id, "topic", m.Config.Topic)
	n := treeNode{src: MappingsSourceID, mp: &m}
	c.tree.events.added(n)
	resp.Add(n.element(c, true))
	return nil
}

// destroyNode destroys a mapping or a broker created at run time.
func (c *Component) destroyNode(ctx context.Context, n treeNode) *nodeError {
	switch {
	case n.src == BrokersSourceID:
		return c.destroyBroker(n)
	case n.src == MappingsSourceID && n.mp == nil:
		return errLocked("the list of mappings cannot be destroyed")
	case n.src == SourceID:
		return errLocked("devices come from MQTT and cannot be destroyed; destroy or change the mapping that bridges them")
	case !n.mp.Runtime:
		return errLocked("mapping " + strconv.Quote(n.mp.ID) + " is defined in the configuration file; remove it there")
	}
	if err := c.b.RemoveMapping(ctx, n.mp.ID); err != nil {
		return mappingFault(err)
	}
	if err := c.tree.store.deleteMapping(n.mp.ID); err != nil {
		// Gone now, back at the next start: say so.
		return errOther("removed, but the node store was not updated, so it returns at the next start: " + err.Error())
	}
	c.log.Info("mapping node destroyed", "id", n.mp.ID)
	c.tree.events.removed(n)
	return nil
}

// destroyBroker destroys a broker created at run time; one that mappings
// use is Locked.
func (c *Component) destroyBroker(n treeNode) *nodeError {
	switch {
	case n.br == nil:
		return errLocked("the list of brokers cannot be destroyed")
	case n.br.ID == mqttbridge.MainBrokerID:
		return errLocked("the broker is defined in the configuration file (mqtt.brokers); change it there")
	}
	if err := c.b.RemoveBroker(n.br.ID); err != nil {
		return brokerFault(err)
	}
	if err := c.tree.store.deleteBroker(n.br.ID); err != nil {
		return errOther("removed, but the node store was not updated, so it returns at the next start: " + err.Error())
	}
	c.log.Info("broker node destroyed", "id", n.br.ID)
	c.tree.events.removed(n)
	return nil
}
