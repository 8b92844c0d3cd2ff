package config

import (
	"time"

	"mellium.im/xmpp/jid"
)

// Provisioning names the XEP-0324 provisioning server the device
// delegates its trust decisions to: who may befriend it, read it and
// control it. Empty: the device decides alone (owners are friends and may
// read and control; anyone may read and control what it can reach through
// a subscription-free IQ).
type Provisioning struct {
	// Server is the provisioning server's JID (a component such as
	// provisioning.example.org, or a client account).
	Server jid.JID `yaml:"server"`
	// Timeout bounds each question; an unanswered question is refused.
	// 0 means 5s.
	Timeout time.Duration `yaml:"timeout"`
	// Registry is a XEP-0347 thing registry the device registers with
	// until an owner claims it; when Server is empty, the registry is also
	// the provisioning server.
	Registry jid.JID `yaml:"registry"`
	// Meta are the meta tags registered (SN, MAN, MODEL, …); a value
	// starting with '#' is a number. The KEY tag is made by the device.
	Meta map[string]string `yaml:"meta"`
	// SelfOwned registers the device as public with no owner.
	SelfOwned bool `yaml:"self_owned"`
}
