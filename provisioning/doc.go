// Package provisioning implements XEP-0324 (Internet of Things -
// Provisioning) and XEP-0347 (Internet of Things - Discovery): the device
// side and the thing registry service.
//
// # Device side of XEP-0324
//
// A device delegates its trust decisions to a provisioning server (v0.5.1,
// namespace urn:xmpp:iot:provisioning): before accepting a presence
// subscription it asks isFriend, before serving a readout canRead, before
// accepting a control action canControl. The server answers yes or no, and
// may allow only some nodes, fields or parameters. Requests carry the
// requester's service, device and user tokens; the server may challenge a
// token (tokenChallenge), and the device answers for its own tokens and
// passes challenges about a requester's tokens on to that requester, in
// both cases only to a party it sent the token to in the last minute. A
// device obtains a token of its own for its X.509 certificate with
// GetToken. A device only asks; it advertises no disco feature.
//
// A Client asks the questions (IsFriend, CanRead and CanControl have the
// shapes of agent.FriendFunc, sensordata.Authorizer and
// iotcontrol.Authorizer; AskFriend, AskRead and AskControl return the full
// answers) and caches the answers, refusals included, per question and
// requester: they hold until the server sends clearCache, bounded in number
// (least recently used first) and dropped when unused for long. Register
// routes the server's clearCache, friend and unfriend recommendations and
// token challenges; orders from anybody else are refused or ignored.
//
// SaveCache and LoadCache keep the decisions across restarts, as §5.2
// recommends, for the same provisioning server only.
//
// Questions block for a network round trip. The session's reading
// goroutine delivers the answers, so a stanza handler must not ask
// (directly or through a hook it calls) before returning: the question
// would time out and be refused. Ask from a goroutine of its own, or give
// the Client a session of its own and Register it on both muxes.
//
// The client fails closed: when the server is unreachable, does not answer
// within Options.Timeout or answers nonsense, only cached decisions hold
// and every other question fails with an error wrapping ErrNoDecision,
// which the hooks' callers treat as a refusal.
//
// Older peers: the 2013 drafts sent clearCache as an IQ get and recommended
// friends with a capitalised Friend element; both are accepted.
package provisioning
