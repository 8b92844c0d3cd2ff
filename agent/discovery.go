package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/thing"
)

// NSDiscovery is the XEP-0347 namespace.
const NSDiscovery = thing.NS

// RegistrationOptions configure the device side of XEP-0347.
type RegistrationOptions struct {
	// Registry is the thing registry's JID.
	Registry jid.JID
	// Tags are the meta tags registered (SN, MAN, MODEL, …), without KEY:
	// a random KEY is made on first registration and kept in StateFile.
	Tags []registry.Tag
	// SelfOwned registers the device as public and claimed, with no owner.
	SelfOwned bool
	// StateFile keeps the KEY and the claim across restarts (mode 0600).
	StateFile string
	// OnClaimed is called when an owner claims the device (or the registry
	// says it already has); the agent befriends the owner.
	OnClaimed func(ctx context.Context, owner jid.JID)
	// OnRemoved is called when the owner removes the device from the
	// registry, and OnDisowned when the owner gives it up (the device then
	// registers again to be claimed anew).
	OnRemoved, OnDisowned func(ctx context.Context)
	// Print receives the claim QR code for a person at a terminal; nil
	// means standard error. The claim text itself goes to the log.
	Print io.Writer
}

// Registration is the device's standing in a thing registry.
type Registration struct {
	r *thing.Registration
}

// RegisterWithRegistry makes the agent register with a XEP-0347 thing
// registry each time it comes online until it is claimed: it prints the
// claim text (and a QR code of it) in the log for the owner, answers the
// registry's claimed, removed and disowned notices, and remembers its KEY
// and claim in opts.StateFile. Call it before Run.
func (a *Agent) RegisterWithRegistry(opts RegistrationOptions) (*Registration, error) {
	to := opts.Registry.String()
	topts := thing.Options{
		Registry: opts.Registry, Tags: opts.Tags, SelfOwned: opts.SelfOwned, StateFile: opts.StateFile,
		OnClaimed: opts.OnClaimed, Logger: a.log,
		OnRegistered: func(_ context.Context, text string) {
			a.log.Info("registry: registered; the owner claims this device with: xiot claim '"+text+"'", "registry", to)
			q, err := qrcode.New(text, qrcode.Medium)
			if err != nil {
				return
			}
			w := opts.Print
			if w == nil {
				w = os.Stderr
			}
			fmt.Fprintf(w, "Claim this device by scanning this code with an XMPP IoT client, or with xiot claim:\n%s", q.ToSmallString(false))
		},
	}
	if f := opts.OnRemoved; f != nil {
		topts.OnRemoved = func(ctx context.Context, _ jid.JID) { f(ctx) }
	}
	if f := opts.OnDisowned; f != nil {
		topts.OnDisowned = func(ctx context.Context, _ jid.JID) { f(ctx) }
	}
	r, err := thing.New(a.sess, topts)
	if err != nil {
		return nil, err
	}
	r.Handle(a.mux)
	var logins atomic.Uint64
	a.OnOnline(func(ctx context.Context, resumed bool) {
		if resumed {
			return
		}
		login := logins.Add(1)
		go func() {
			// Retried with backoff while this login lasts (the next one
			// starts over): a registry that is down gets the registration
			// or the update when it is back.
			for n := 1; ctx.Err() == nil && logins.Load() == login; n++ {
				_, err := r.Register(ctx)
				if err == nil {
					return
				}
				wait := min(time.Second<<min(n-1, 10), 10*time.Minute)
				a.log.Warn("registry: registration failed; retrying", "registry", to, "retry_in", wait, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		}()
	})
	return &Registration{r: r}, nil
}

// Owner returns the owner's JID once claimed.
func (r *Registration) Owner() (jid.JID, bool) { return r.r.Owner() }

// ClaimText is the text the owner gives the registry to claim the device
// (XEP-0347 §3.8, as printed in the QR code).
func (r *Registration) ClaimText() string { return r.r.ClaimText() }

// ParseTags turns "NAME=value" meta tags into registry tags; a value
// prefixed with '#' is numeric (XEP-0347 num tags).
func ParseTags(meta map[string]string) ([]registry.Tag, error) { return thing.ParseTags(meta) }
