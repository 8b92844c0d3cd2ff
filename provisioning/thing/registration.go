package thing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/atomicfile"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
)

// NS is the XEP-0347 namespace.
const NS = registry.NS

// Options configure a Registration.
type Options struct {
	// Registry is the thing registry's JID.
	Registry jid.JID
	// Tags are the meta tags registered (SN, MAN, MODEL, …), without KEY:
	// a random KEY is made on first use and kept in StateFile.
	Tags []registry.Tag
	// SelfOwned registers the thing as public and claimed, with no owner.
	SelfOwned bool
	// StateFile keeps the KEY, the claim text and the owner across
	// restarts (mode 0600).
	StateFile string
	// From is the thing's JID on a component session that serves several
	// things; "" sends from the session's own JID.
	From string
	// Timeout bounds one registration; default 30 s.
	Timeout time.Duration

	// OnRegistered is called after a registration that awaits its owner,
	// with the claim text (XEP-0347 §3.8) to show the owner.
	OnRegistered func(ctx context.Context, claim string)
	// OnClaimed is called when an owner claims the thing (or the registry
	// says, at registration, that one already has).
	OnClaimed func(ctx context.Context, owner jid.JID)
	// OnRemoved is called when the owner removes the thing from the
	// registry, and OnDisowned when the owner gives it up (the thing then
	// registers again to be claimed anew); former is the owner until then
	// (zero when none was known).
	OnRemoved, OnDisowned func(ctx context.Context, former jid.JID)

	// Logger receives registration events; nil discards them.
	Logger *slog.Logger
}

// State is what a state file holds.
type State struct {
	// Key is the random KEY tag shared with the owner through the claim.
	Key string `json:"key"`
	// Owner is the owner's bare JID once claimed.
	Owner string `json:"owner,omitempty"`
	// Removed is set when the owner removed the thing from the registry.
	Removed bool `json:"removed,omitempty"`
	// JID is the thing's JID when it is not the session's (Options.From).
	JID string `json:"jid,omitempty"`
	// Claim is the claim text of the last registration.
	Claim string `json:"claim,omitempty"`
	// Tags are the meta tags (KEY aside) the registry last took from the
	// thing, by registration or update, sorted by name: a claimed thing
	// sends an update only when its tags differ from them.
	Tags []registry.Tag `json:"tags,omitempty"`
}

// Status is the outcome of Register.
type Status int

// Outcomes of Register.
const (
	// Skipped: the thing is claimed or was removed; nothing was sent.
	Skipped Status = iota
	// Registered: the thing awaits its owner's claim.
	Registered
	// SelfOwned: registered as a public thing with no owner.
	SelfOwned
	// Claimed: the registry answered that the thing is claimed.
	Claimed
	// Updated: the claimed thing's changed tags were sent as an update
	// (XEP-0347 §3.11).
	Updated
	// Removed: the registry no longer takes the thing's updates: its
	// owner removed it (found out by an update refused with
	// item-not-found and a registration answered "claimed").
	Removed
)

// Registration is a thing's standing in a thing registry. Its methods
// are safe for concurrent use.
type Registration struct {
	sess *xmpp.Session
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	state State
}

// New returns the registration of the thing whose state opts.StateFile
// keeps, creating the file with a new random KEY when it does not exist.
// It sends nothing: call Register when the session is online, and route
// the registry's notices to HandleStanza (see Register for the agent's
// mux).
func New(sess *xmpp.Session, opts Options) (*Registration, error) {
	if opts.StateFile == "" {
		return nil, errors.New("registry: no state file for the KEY")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Tags = sortedTags(opts.Tags)
	r := &Registration{sess: sess, opts: opts, log: opts.Logger}
	st, err := ReadState(opts.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		var k [16]byte
		if _, err := rand.Read(k[:]); err != nil {
			return nil, fmt.Errorf("registry: make a KEY: %w", err)
		}
		r.state = State{Key: hex.EncodeToString(k[:]), JID: opts.From}
		r.state.Claim = registry.ClaimURI(r.tags())
		if err := r.save(); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		r.state = st
	}
	return r, nil
}

// ReadState reads a state file; an error wraps os.ErrNotExist when there
// is none.
func ReadState(path string) (State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return State{}, fmt.Errorf("registry: %w", err)
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil || st.Key == "" {
		return State{}, fmt.Errorf("registry: %s is damaged (delete it to register anew): %v", path, err)
	}
	return st, nil
}

// Handle routes the registry's notices (claimed, removed, disowned) on
// mux to r, one at a time.
func (r *Registration) Handle(mux *xmpp.Mux) {
	h := xmpp.Serial(r, 16)
	for _, local := range []string{"claimed", "removed", "disowned"} {
		mux.IQ("set", NS, local, h)
	}
}

// Owner returns the owner's JID once claimed.
func (r *Registration) Owner() (jid.JID, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owner()
}

func (r *Registration) owner() (jid.JID, bool) {
	if r.state.Owner == "" {
		return jid.JID{}, false
	}
	j, err := jid.Parse(r.state.Owner)
	return j, err == nil
}

// IsOwner reports whether from (any resource) is the owner.
func (r *Registration) IsOwner(from jid.JID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state.Owner != "" && r.state.Owner == from.Bare().String()
}

// State returns a copy of the state.
func (r *Registration) State() State {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.state
	st.Tags = slices.Clone(st.Tags)
	return st
}

// ClaimText is the text the owner gives the registry to claim the thing
// (XEP-0347 §3.8, as printed in a QR code).
func (r *Registration) ClaimText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return registry.ClaimURI(r.tags())
}

// tags returns the registered tags, KEY included; the caller holds mu or
// owns r.
func (r *Registration) tags() []registry.Tag {
	return append(slices.Clone(r.opts.Tags), registry.Tag{Name: registry.KeyTag, Value: r.state.Key})
}

// save writes the state atomically; the caller holds mu or owns r.
func (r *Registration) save() error {
	b, err := json.Marshal(r.state)
	if err != nil {
		return err
	}
	return writeFileAtomic(r.opts.StateFile, b)
}

// writeFileAtomic replaces path with b (mode 0600), creating its
// directory first: a crash leaves the old or the new content, never a mix.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if err := atomicfile.Write(path, b, 0o600); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// from returns ctx under which a component session sends from the thing.
func (r *Registration) from(ctx context.Context) context.Context {
	if r.opts.From == "" {
		return ctx
	}
	return xmpp.WithFrom(ctx, r.opts.From)
}

func (r *Registration) claimed(ctx context.Context, owner string) error {
	j, err := jid.Parse(owner)
	if err != nil || owner == "" {
		return fmt.Errorf("registry: claimed by an invalid JID %q", owner)
	}
	r.mu.Lock()
	r.state.Owner, r.state.Removed = j.Bare().String(), false
	err = r.save()
	r.mu.Unlock()
	r.log.Info("registry: claimed", "owner", j.Bare().String())
	if r.opts.OnClaimed != nil {
		r.opts.OnClaimed(ctx, j.Bare())
	}
	return err
}

// HandleStanza answers the registry's claimed, removed and disowned
// notices (IQ sets); anybody else is refused. After disowned the thing
// registers again, on a goroutine of its own.
func (r *Registration) HandleStanza(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	from, err := jid.Parse(iq.Get("from"))
	if err != nil || !from.Bare().Equal(r.opts.Registry.Bare()) {
		return xmpp.NewStanzaError("cancel", "forbidden", "only the thing registry may say this")
	}
	el := iq.FirstChild()
	if el == nil || el.Name.Space != NS {
		return xmpp.ErrFeatureNotImplemented
	}
	if el.Get("nodeId") != "" || el.Get("sourceId") != "" || el.Get("cacheType") != "" {
		return xmpp.NewStanzaError("cancel", "item-not-found", "this thing has no nodes in the registry")
	}
	ctx = r.from(ctx)
	switch el.Name.Local {
	case "claimed":
		if err := r.claimed(ctx, el.Get("jid")); err != nil {
			return xmpp.NewStanzaError("modify", "bad-request", err.Error())
		}
	case "removed":
		r.removed(ctx)
	case "disowned":
		r.disowned(ctx)
		go func() {
			if _, err := r.Register(context.WithoutCancel(ctx)); err != nil {
				r.log.Warn("registry: registration after disowning failed", "err", err)
			}
		}()
	default:
		return xmpp.ErrFeatureNotImplemented
	}
	return s.Send(ctx, xmpp.ResultIQ(iq, nil))
}

// ParseTags turns "NAME=value" meta tags into registry tags, sorted by
// name; a value prefixed with '#' is numeric (XEP-0347 num tags).
func ParseTags(meta map[string]string) ([]registry.Tag, error) {
	var tags []registry.Tag
	for name, v := range meta {
		if strings.EqualFold(name, registry.KeyTag) {
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
