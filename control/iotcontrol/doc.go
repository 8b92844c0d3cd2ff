// Package iotcontrol speaks XEP-0325 (Internet of Things - Control, v0.5.1,
// namespace urn:xmpp:iot:control) on top of a control.Controller: the
// device side (Server) and the controlling side (Set, Send, GetForm).
//
// A client sets parameters with a typed <set/> in an IQ, answered by
// <setResponse/> or by an error carrying <paramError/> elements, or in a
// message, answered by nothing. It can instead fetch a data form with
// <getForm/> (XEP-0004 with XEP-0122 validation, XEP-0141 pages, the
// XEP-0336 notSame flag and XEP-0331 colours) and submit it, partly filled,
// inside <set/>. <node/> elements address nodes behind a concentrator.
//
// Every set is validated in full before anything is applied; errors and
// partial results follow the XEP's table: item-not-found for unknown nodes
// and parameters, bad-request with "Invalid parameter type." or "Invalid
// parameter value." per parameter, forbidden when the authorisation hook
// refuses, conflict (type wait) when a safety interlock holds the output.
// When the hook allows only some parameters, only those are set and the
// setResponse lists them.
//
// A timed override is a set that carries the extra duration parameter
// OverrideParam ("OverrideDuration"): the other parameters of the set
// return to their previous values after that long. It is an ordinary
// XEP-0325 duration parameter, listed in the control form, so any client
// can send it.
//
// Older peers: slixmpp's xep_0325 plugin speaks the 2013 draft, where
// setResponse carries responseCode="OK" and failures are an error IQ
// holding <setResponse responseCode='NotFound|…'> with an <error var=…/>
// child instead of stanza error conditions. The client accepts both forms
// (see Error); the server always answers as v0.5.1 does, which slixmpp
// reads as a result with an empty responseCode.
package iotcontrol
