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
// Older peers. slixmpp's xep_0325 plugin (python3-slixmpp 1.8.3) speaks
// the 2013 draft; the interop tests run it both ways through Prosody. The
// differences handled:
//
//   - Its device answers a set with <setResponse responseCode='OK'/>; the
//     client accepts the code and treats OK like v0.5.1's empty
//     setResponse.
//   - Its device refuses with an error IQ holding <setResponse
//     responseCode='NotFound|InsufficientPrivileges|Locked|NotImplemented|
//     FormError|OtherError'> with <node/>, <parameter/> and <error var>
//     children, and no stanza error condition. The client maps the code to
//     item-not-found, forbidden, conflict, feature-not-implemented,
//     bad-request and undefined-condition, and <error var> to a ParamError
//     (see Error.ResponseCode).
//   - Its device has no getForm and matches parameters by name and element
//     type (a wrong type is NotFound). The client therefore types values
//     from the control form when there is one, from an explicit :type, and
//     otherwise from their lexical form (GuessType).
//   - It sends set messages with type='set', not an RFC 6121 type;
//     servers deliver them as normal messages and the Server handles a
//     message set whatever its type, except error.
//   - Its client expects setResponse responseCode; the Server answers as
//     v0.5.1 does, so the plugin's set_request callback sees an empty code
//     on success. v0.5.1 errors carry no setResponse, so the plugin's
//     SetResponseError event does not fire: slixmpp code sees them as an
//     IqError with the XEP's condition and paramError children.
package iotcontrol
