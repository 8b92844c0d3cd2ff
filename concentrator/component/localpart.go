package component

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"mellium.im/xmpp/jid"
)

// Localpart returns the JID localpart of a device id: the id escaped per
// XEP-0106 and case-folded as servers normalise localparts, or, when that
// is still not a valid localpart, "mqtt-" and 16 hex digits of the id's
// SHA-256. domain is the component domain the JID will use.
func Localpart(id, domain string) string {
	if id != "" {
		if j, err := jid.New(jid.Escape.String(id), domain, ""); err == nil && j.Localpart() != "" {
			return j.Localpart()
		}
	}
	sum := sha256.Sum256([]byte(id))
	return "mqtt-" + hex.EncodeToString(sum[:8])
}

// deviceJID joins a localpart and the component domain.
func deviceJID(local, domain string) string {
	return fmt.Sprintf("%s@%s", local, domain)
}
