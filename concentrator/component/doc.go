// Package component is the XMPP side of the MQTT concentrator: a XEP-0114
// external component (e.g. mqtt.example.org) that gives every device of an
// mqttbridge.Bridge its own JID, <device>@<component domain>, or, in
// client mode, one client account whose JID serves the devices as nodes
// (see Client mode).
//
// xmpp.Mux.Route hands every stanza to a device JID to the devices' mux,
// whose handlers find the device by the 'to' address and whose replies
// come from the device JID (one mux shared by all devices rather than one
// each: that would cost about 3 KB per device). Each device JID answers:
//
//   - XEP-0030 service discovery (identity client/bot named after the
//     device; features ping, sensor data, and control when the device has
//     writable fields) and XEP-0199 ping;
//   - presence: subscription requests from the owners are accepted and
//     remembered in a subscription store (concentrator-subscriptions.json
//     in the state directory, written atomically), others are refused;
//     probes are answered; subscribers get available or unavailable
//     presence as the device's availability (LWT, Homie $state, broker
//     connection) changes;
//   - XEP-0323 readouts from the bridge's registry: momentary values are
//     the last retained or received values with their timestamps, one
//     readout node per field node ("" is the device itself); an
//     unavailable device gives a failure for each node read;
//   - XEP-0325 control of the writable fields through a control.Controller
//     whose outputs publish with Bridge.Publish: a set succeeds only after
//     the device's state echo, and is refused with an error naming the
//     cause otherwise (remote-server-timeout with no echo,
//     service-unavailable while the broker is away).
//
// # Node tree (XEP-0326)
//
// The component's own JID is a XEP-0326 v0.4 concentrator
// (urn:xmpp:iot:concentrators) with three data sources: SourceID "MQTT",
// whose root nodes are the devices and whose child nodes are their field
// nodes ("<device>/<node>"), MappingsSourceID "MQTTMappings", whose root
// node MappingsNodeID holds one node per topic mapping, and
// BrokersSourceID "MQTTBrokers", whose root node BrokersNodeID holds one
// node per broker connection (ConfigBrokerNodeID for mqtt.brokers, the
// others created at run time; a mapping's broker parameter names one).
// It answers
// getCapabilities (exactly what follows), the data sources, the node
// queries (getAllNodes with onlyIfDerivedFrom, getAncestors,
// getNodeInheritance: xiot.mqtt.HomieDevice derives from
// xiot.mqtt.Device, which derives from xiot.mqtt.Node; interfaces are the
// XEP-0323 and XEP-0325 namespaces of readable and controllable nodes),
// node parameter forms, for one node or several at once (a device's
// display name; a mapping's or a broker's settings, read-only for those
// of the configuration file; a broker's password is write-only), the
// creation and destruction of topic mappings and brokers (persisted in
// NodesFile in the state directory, written atomically with mode 0600,
// restored at start; a broker that mappings use is Locked), node
// commands (resubscribe, publishSample) and data source events (see
// events.go for their lifetime and bounds; a broker node's state follows
// its connection, with nodeStatusChanged). Refusals carry the XEP's
// response code (NotFound, InsufficientPrivileges, Locked, FormError with
// one error per field, OtherError, NotImplemented) in an IQ error that
// also carries the RFC 6120 condition. Lists longer than 1,000 nodes are
// refused with OtherError (the XEP has no paging).
//
// XEP-0323 readouts and XEP-0325 sets addressed to the component's JID
// take node elements (nodeId, sourceId "MQTT" or none) to read or set
// many devices in one request: a device node's readout includes its field
// nodes, fields are tagged with their node id and data source, and an
// unknown node fails on its own in the failure element while the others
// are read. A set must name its nodes.
//
// # Access
//
// The owners (Options.Owners, account.owners in the configuration) may
// read and control every device and use the whole node tree. Without
// provisioning nobody else may; others get forbidden
// (InsufficientPrivileges in XEP-0326 answers). Service discovery and
// ping answer everybody.
//
// With provisioning, requests to the component's own JID for a device's
// nodes get that device's decision, as on its own JID (rootaccess.go):
// readouts read each node whose device allows it (its claimed owner, or
// the provisioning server's canRead, with its field limits) and fail the
// others with InsufficientPrivileges; a set needs every device it names
// to allow it, with the parameters all of them allow; a device's claimed
// owner browses that device's nodes (read-only tree queries; lists show
// only such nodes). Editing nodes, commands, event subscriptions and the
// topic mappings stay with the owners. No decision means no access.
//
// # Client mode
//
// For servers where no component can be added, Options.Session may be a
// client account instead (Component false): the concentrator then logs
// in as that account through an agent.Agent (TLS, SASL SCRAM, XEP-0198,
// reconnects; initial presence with XEP-0115 caps, the roster, presence
// subscriptions from the owners accepted and others refused,
// disco#info with the features above, ping, XEP-0092 version), and the
// account's JID serves the node tree and the readouts and sets by node
// described above. There are no device JIDs: no per-device presence,
// disco or provisioning (New refuses Options.Provisioning); a device's
// availability shows as its node state and in data source events.
// Requests go to the account's full JID: the server answers for the bare
// JID itself.
//
// With Options.Provisioning, each device is also a XEP-0347 thing of its
// own, under its own JID (see Provisioning for why not a node behind the
// component): it registers in the thing registry with a random KEY kept
// in RegistrationsDir (at most Provisioning.MaxRegistering at once, with
// backoff), its claim text is logged and listed by Claims, and the owner
// who claims it becomes its friend and may read and control it. For
// everybody else the device asks the XEP-0324 provisioning server, from
// its own JID: isFriend before accepting a presence subscription, canRead
// and canControl before a readout or a set, serving only the fields and
// parameters allowed. Each device caches the answers until the server
// sends it clearCache, and follows the server's friend and unfriend
// recommendations; with the server unreachable only cached decisions
// hold.
//
// # Device ids and JIDs
//
// A device id becomes a localpart by XEP-0106 escaping (space, ", &, ', /,
// :, <, >, @ and \ become \20, \22, …) and the case folding of the PRECIS
// UsernameCaseMapped profile that servers apply: "Kitchen Plug" is
// kitchen\20plug@mqtt.example.org. Two ids that fold to the same localpart
// ("Plug" and "plug") collide: the first one seen keeps the JID, the
// other is logged and not reachable over XMPP. An id that is no valid
// localpart even escaped gets "mqtt-" and 16 hex digits of its SHA-256.
//
// # Control
//
// The controller has no safety rules: no failsafe (writing a value of our
// choosing to someone else's MQTT device at start-up or when XMPP goes away
// would be wrong), no interlocks. A Controller is built for each request
// from the device's current fields, so forms show the device's actual
// state, and its boot writes are not published. Timed overrides (the
// OverrideDuration parameter) are refused with feature-not-implemented:
// reverting later would need a controller that outlives the request.
// Sets wait for the device's echo on goroutines of their own (at most
// Options.MaxSets at once; more are refused with resource-constraint), not
// on the session's reading goroutine.
package component
