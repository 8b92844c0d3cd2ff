// Package xmpp is xiot's XMPP session layer: an RFC 6120/6121 client and a
// XEP-0114 component that survive dropped links.
//
// A Session owns one logical XMPP session across any number of TCP
// connections. It dials (STARTTLS with certificate verification, or XEP-0368
// direct TLS), authenticates with SASL SCRAM-SHA-256 or SCRAM-SHA-1 through
// mellium.im/sasl (PLAIN only over TLS and only when allowed), binds a
// resource and enables XEP-0198 stream management. When the connection drops
// it reconnects with capped exponential backoff and jitter and resumes the
// stream, so that no stanza is lost in either direction: outgoing stanzas stay
// queued until the server acknowledges them, and the count of handled incoming
// stanzas tells the server what to retransmit.
//
// Incoming stanzas are read one top-level element at a time into an Element
// tree, with a size and depth limit; malformed or oversized input ends the
// stream with the matching stream error (not-well-formed, restricted-xml,
// policy-violation) and the session reconnects. Stanzas are routed by a Mux on
// the stanza kind and the qualified name of their payload; IQs nobody handles
// get service-unavailable, as RFC 6120 §8.4 asks. XEP-0199 pings are answered
// and also sent as keepalives.
//
// With Config.EXI set, the session speaks XEP-0322: it negotiates EXI after
// SASL (setup, schema upload, compress) or, in the alternative binding,
// speaks EXI from the first byte, and then exchanges each stanza as an EXI
// document (package exi), schema-less or with the canonical schema set of
// package exi/xmppschema. A server without EXI is met in XML, with a
// warning in the log.
//
// Components serving many JIDs route stanzas per addressed JID (Mux.Route),
// and handlers that must wait for an answer run off the reading loop
// (Serial).
//
// mellium.im/xmpp was evaluated first: its SASL library and JID package are
// used here, but its Session has no stream management and reads the
// transport as XML text only, while xiot needs resumption and, for XEP-0322,
// the ability to swap the token stream under a live session; hence this
// smaller core.
package xmpp
