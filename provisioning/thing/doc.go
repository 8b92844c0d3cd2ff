// Package thing is the thing side of XEP-0347 (Internet of Things -
// Discovery) and the glue between a XEP-0324 provisioning.Client and the
// XEP-0323 / XEP-0325 servers of a device, shared by the agent (one thing
// on its own client session) and the MQTT concentrator (one thing per
// bridged device JID, all on one component session).
//
// A Registration keeps a thing's standing in a thing registry: a random
// KEY made on first use and kept in a state file (mode 0600, replaced
// atomically) with the owner once claimed and the tags the registry last
// took. Register sends the meta tags and KEY (or registers the thing as
// self-owned) until the thing is claimed, and then only an update of the
// tags that changed (XEP-0347 §3.11), nothing when none did; it follows
// the registry's answers (claimed, disowned, item-not-found).
// HandleStanza answers the registry's claimed, removed and disowned
// notices, and Unregister takes a thing out of the registry (§3.14) and
// deletes its state file. On a component session, Options.From names the
// thing's JID: what the Registration sends comes from it.
//
// CacheFile keeps a provisioning.Client's decision cache in a file, so
// that cached grants hold across a restart while the provisioning server
// is unreachable (XEP-0324 §5.2).
//
// Authorizers turns a provisioning.Client into the readout and control
// hooks of package sensordata and iotcontrol, passing the request's
// tokens and field types on to the provisioning server.
package thing
