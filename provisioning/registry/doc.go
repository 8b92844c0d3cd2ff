// Package registry is the fleet side of XEP-0347 (Internet of Things -
// Discovery, v0.5.1, urn:xmpp:iot:discovery) and XEP-0324 (Internet of
// Things - Provisioning, v0.5.1, urn:xmpp:iot:provisioning): a thing
// registry that is also the provisioning server of the things claimed in
// it, meant to run as an XEP-0114 component ("xiot registry").
//
// # Thing registry (XEP-0347)
//
// Things register their meta tags (with a secret KEY shared with their
// owner) or register as self-owned; an owner claims a thing by presenting
// exactly the same tags, and the thing is told it was claimed. Claimed
// public things are found by search with every operator of §3.12 (strEq …
// strMask, numEq … numNRange); KEY is never searchable nor returned. Owners
// update, remove and disown their things; things update and unregister
// themselves; the registry tells things they were claimed, removed or
// disowned.
//
// # Provisioning server (XEP-0324)
//
// A claimed thing delegates its trust to the registry: isFriend, canRead
// and canControl are answered from its owner's rules (the owner is always
// a friend and may read and control everything). A rule is about a bare
// JID, a domain or a XEP-0324 token, and allows or denies friendship,
// readout (optionally only some fields) and control (optionally only some
// parameters), per thing or node. A question no rule answers is refused
// and sent to the owner as a message; the owner's answer (a rule set with
// the registry's own urn:xiot:registry protocol, see Owner) sticks. When
// a rule changes, the thing is sent clearCache (recorded first, so that a
// thing offline or a registry restarted meanwhile still gets it when the
// thing is next seen) and friend or unfriend recommendations.
//
// # Tokens (XEP-0324 §3.1.3)
//
// A service, device or user obtains a token for its X.509 certificate
// with getToken: the registry encrypts 32 random bytes to the
// certificate's RSA key (RSA-OAEP, SHA-256, no label: the XEP names no
// scheme; other keys are refused), and issues a token (192 random bits,
// URL-safe base64) when the block comes back decrypted. Tokens are stored
// by their SHA-256 with the certificate, the JID that asked, and an
// expiry (TokenStore; the SQL stores implement it). A rule about a token
// is honoured only once the requester presenting it proved holding the
// key: the registry sends the device that asked a tokenChallenge, which
// the device passes on to the requester (provisioning.Holder answers it);
// the outcome is cached per token and requester. Unknown, expired and
// unproven tokens are ignored: the requester's JID and domain rules
// decide. A token is not tied to the JID that obtained it, so that it can
// be delegated (the XEP's "Different types of tokens").
//
// # Security
//
// Every request is authorised from its sender's bare JID (stamped by the
// XMPP server): only a thing updates or unregisters itself, only an owner
// sees rules, updates, removes or disowns; failures say item-not-found
// whether the thing is absent or someone else's. Claims and searches are
// rate-limited per JID; tags, operators, names and things per JID are
// bounded; strMask matching is linear; KEY is never searched, returned or
// logged, nor are tokens. getToken is rate-limited per JID, and each JID
// has at most four challenges waiting.
//
// Everything is kept in a Store. sqlstore provides SQLite (embedded, the
// default) and PostgreSQL (several registry instances on one database);
// both implement Searcher, so that searches, claims and owners' listings
// use indexes instead of scanning every thing. boltstore, the store of
// older versions, is kept to convert their files; storetest is the suite
// every Store passes.
package registry
