package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	qrcode "github.com/skip2/go-qrcode"
	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

// NSDiscovery is the XEP-0347 namespace.
const NSDiscovery = "urn:xmpp:iot:discovery"

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

// registrationState is what StateFile holds.
type registrationState struct {
	Key     string `json:"key"`
	Owner   string `json:"owner,omitempty"`
	Removed bool   `json:"removed,omitempty"`
}

// Registration is the device's standing in a thing registry.
type Registration struct {
	a    *Agent
	opts RegistrationOptions

	mu    sync.Mutex
	state registrationState
}

// RegisterWithRegistry makes the agent register with a XEP-0347 thing
// registry each time it comes online until it is claimed: it prints the
// claim text (and a QR code of it) in the log for the owner, answers the
// registry's claimed, removed and disowned notices, and remembers its KEY
// and claim in opts.StateFile. Call it before Run.
func (a *Agent) RegisterWithRegistry(opts RegistrationOptions) (*Registration, error) {
	r := &Registration{a: a, opts: opts}
	if err := r.load(); err != nil {
		return nil, err
	}
	handler := xmpp.Serial(xmpp.HandlerFunc(r.handle), 16)
	for _, local := range []string{"claimed", "removed", "disowned"} {
		a.mux.IQ("set", NSDiscovery, local, handler)
	}
	a.OnOnline(func(ctx context.Context, resumed bool) {
		if resumed {
			return
		}
		go func() {
			if err := r.register(ctx); err != nil {
				a.log.Warn("registry: registration failed; retried at the next login", "registry", opts.Registry.String(), "err", err)
			}
		}()
	})
	return r, nil
}

// Owner returns the owner's JID once claimed.
func (r *Registration) Owner() (jid.JID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state.Owner == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(r.state.Owner)
	return j, err == nil
}

// ClaimText is the text the owner gives the registry to claim the device
// (XEP-0347 §3.8, as printed in the QR code).
func (r *Registration) ClaimText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return registry.ClaimURI(r.tags())
}

func (r *Registration) tags() []registry.Tag {
	return append(append([]registry.Tag(nil), r.opts.Tags...), registry.Tag{Name: "KEY", Value: r.state.Key})
}

func (r *Registration) load() error {
	b, err := os.ReadFile(r.opts.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		var k [16]byte
		if _, err := rand.Read(k[:]); err != nil {
			return fmt.Errorf("registry: make a KEY: %w", err)
		}
		r.state = registrationState{Key: hex.EncodeToString(k[:])}
		return r.save()
	case err != nil:
		return fmt.Errorf("registry: %w", err)
	}
	if err := json.Unmarshal(b, &r.state); err != nil || r.state.Key == "" {
		return fmt.Errorf("registry: %s is damaged (delete it to register anew): %v", r.opts.StateFile, err)
	}
	return nil
}

// save writes the state atomically; the caller holds mu or owns r.
func (r *Registration) save() error {
	b, err := json.Marshal(r.state)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(r.opts.StateFile), 0o750); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	tmp := r.opts.StateFile + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return os.Rename(tmp, r.opts.StateFile)
}

// register sends the registration unless the device is claimed or was
// removed by its owner.
func (r *Registration) register(ctx context.Context) error {
	r.mu.Lock()
	claimed, removed := r.state.Owner != "", r.state.Removed
	reg := xmpp.NewElement(NSDiscovery, "register")
	if r.opts.SelfOwned {
		reg.Set("selfOwned", "true")
	}
	for _, t := range r.tags() {
		if t.Numeric {
			reg.Add(xmpp.NewElement(NSDiscovery, "num", "name", t.Name, "value", fmt.Sprint(t.Num)))
		} else {
			reg.Add(xmpp.NewElement(NSDiscovery, "str", "name", t.Name, "value", t.Value))
		}
	}
	r.mu.Unlock()
	if claimed || removed {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := r.a.sess.SendIQ(ctx, xmpp.NewElement("", "iq", "type", "set", "to", r.opts.Registry.String()).Add(reg))
	if err != nil {
		return err
	}
	if c := res.Child(NSDiscovery, "claimed"); c != nil {
		return r.claimed(ctx, c.Get("jid"))
	}
	if r.opts.SelfOwned {
		r.a.log.Info("registry: registered as a self-owned, public thing", "registry", r.opts.Registry.String())
		return nil
	}
	text := r.ClaimText()
	qr := ""
	if q, err := qrcode.New(text, qrcode.Medium); err == nil {
		qr = q.ToSmallString(false)
	}
	r.a.log.Info("registry: registered; the owner claims this device with: xiot claim '"+text+"'", "registry", r.opts.Registry.String())
	if qr != "" {
		w := r.opts.Print
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "Claim this device by scanning this code with an XMPP IoT client, or with xiot claim:\n%s", qr)
	}
	return nil
}

func (r *Registration) claimed(ctx context.Context, owner string) error {
	j, err := jid.Parse(owner)
	if err != nil {
		return fmt.Errorf("registry: claimed by an invalid JID %q", owner)
	}
	r.mu.Lock()
	r.state.Owner, r.state.Removed = j.Bare().String(), false
	err = r.save()
	r.mu.Unlock()
	r.a.log.Info("registry: claimed", "owner", j.Bare().String())
	if r.opts.OnClaimed != nil {
		r.opts.OnClaimed(ctx, j.Bare())
	}
	return err
}

// handle answers the registry's notices; anybody else is refused.
func (r *Registration) handle(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	from, err := jid.Parse(iq.Get("from"))
	if err != nil || !from.Bare().Equal(r.opts.Registry.Bare()) {
		return xmpp.NewStanzaError("cancel", "forbidden", "only the thing registry may say this")
	}
	el := iq.FirstChild()
	if el.Get("nodeId") != "" {
		return xmpp.NewStanzaError("cancel", "item-not-found", "this device has no nodes in the registry")
	}
	switch el.Name.Local {
	case "claimed":
		if err := r.claimed(ctx, el.Get("jid")); err != nil {
			return xmpp.NewStanzaError("modify", "bad-request", err.Error())
		}
	case "removed":
		r.mu.Lock()
		r.state.Owner, r.state.Removed = "", true
		err = r.save()
		r.mu.Unlock()
		r.a.log.Info("registry: removed from the registry by its owner")
		if r.opts.OnRemoved != nil {
			r.opts.OnRemoved(ctx)
		}
	case "disowned":
		r.mu.Lock()
		r.state.Owner = ""
		err = r.save()
		r.mu.Unlock()
		r.a.log.Info("registry: disowned; registering again to be claimed anew")
		if r.opts.OnDisowned != nil {
			r.opts.OnDisowned(ctx)
		}
		go func() {
			if err := r.register(context.WithoutCancel(ctx)); err != nil {
				r.a.log.Warn("registry: registration after disowning failed", "err", err)
			}
		}()
	}
	if err != nil {
		r.a.log.Error("registry: state not saved", "err", err)
	}
	return s.Send(ctx, xmpp.ResultIQ(iq, nil))
}

// ParseTags turns "NAME=value" meta tags into registry tags; a value
// prefixed with '#' is numeric (XEP-0347 num tags).
func ParseTags(meta map[string]string) ([]registry.Tag, error) {
	var tags []registry.Tag
	for name, v := range meta {
		if strings.EqualFold(name, "KEY") {
			return nil, errors.New("registry: KEY is made by the device; do not set it")
		}
		if num, ok := strings.CutPrefix(v, "#"); ok {
			var f float64
			if _, err := fmt.Sscan(num, &f); err != nil {
				return nil, fmt.Errorf("registry: tag %s: %q is not a number", name, num)
			}
			tags = append(tags, registry.Tag{Name: name, Num: f, Numeric: true})
			continue
		}
		tags = append(tags, registry.Tag{Name: name, Value: v})
	}
	slices.SortFunc(tags, func(a, b registry.Tag) int { return strings.Compare(a.Name, b.Name) })
	return tags, nil
}
