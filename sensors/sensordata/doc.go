// Package sensordata implements XEP-0323 (Internet of Things - Sensor Data,
// version 0.6, namespace urn:xmpp:iot:sensordata): the wire format of
// readout requests and results, a device-side Server that answers readouts
// from sensors.Sensor drivers, and a Client that reads devices.
//
// A client sends an IQ get carrying req with a sequence number, the nodes,
// fields and field types it wants, an optional time range and an optional
// time to perform the readout. The device answers the IQ with accepted (or
// an RFC 6120 error: forbidden, item-not-found, bad-request), then sends
// messages with the same sequence number: started when a queued readout
// begins, one or more fields, failure for nodes that could not be read,
// and done (or a done attribute on the last message). A cancel IQ stops a
// readout and is answered with cancelled.
//
// # Server
//
// A Server reads the sensors of the requested nodes concurrently, each node
// bounded by Options.ReadTimeout (a node that errs or hangs is reported in
// a failure with its error; a driver that ignores its context holds only
// its own sensor), filters by field type and name, takes historical types
// from an optional History, and splits results into fields messages of
// Options.MaxFields. A quick readout sends its first results and the
// accepted reply in one write, results first (§3 lets clients infer
// acceptance). Requests are refused per §3.3 with RFC 6120 errors:
// bad-request (malformed, 'when' too far ahead, seqnr in use),
// item-not-found (unknown node, no such field), forbidden (Authorizer), and
// wait/resource-constraint beyond Options.MaxPerRequester readouts of one
// requester or Options.MaxPending in all, so that a flood costs a bounded
// amount of memory. Package sensors/pep pushes changes without requests.
//
// # Older peers
//
// slixmpp's xep_0323 plugin (Debian python3-slixmpp 1.8.3) implements a
// 2013 draft of the same namespace. The differences this package handles:
//
//   - Refusals: the draft answers with an IQ error holding a rejected
//     element (seqnr, error text) and no RFC 6120 condition. The Server
//     sends both the RFC 6120 error and rejected in the same IQ error;
//     the Client reads either (a rejected-only refusal becomes a Rejected
//     error).
//   - Value types: the draft knows numeric, string, boolean, dateTime,
//     timeSpan and enum only. The Client reads timeSpan as duration. The
//     Server writes the Legacy dialect (see Dialect) to requesters that
//     Options.Legacy selects; by default those whose IQ id is the decimal
//     seqnr, which is what the draft's clients send (0.2 changed example
//     ids to tell them apart from sequence numbers; slixmpp never did).
//   - Completion: slixmpp's client ignores the done element and forgets a
//     readout at its first failure. The Server therefore marks the last
//     fields or failure message done='true' instead of sending done, and
//     sends failures after all fields. The Client accepts every form.
//   - Times: slixmpp parses when, from and to only as
//     YYYY-MM-DDThh:mm:ss without zone and sends timestamps without zone.
//     Timestamps without zone are read as UTC.
//   - Field precision: XEP-0323 has no nrDecimals attribute (that is a
//     XEP-0326 table column attribute); decimals travel in the value text
//     ("21.50" has two) and are kept in sensors.Field.Decimals.
package sensordata
