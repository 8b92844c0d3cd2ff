package component

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/thing"
)

// RegistrationsDir is the directory, in the state directory, holding one
// state file per device registered in a thing registry: its JID, random
// KEY, claim text and owner (mode 0600, each replaced atomically).
const RegistrationsDir = "concentrator-registrations"

// Backoff of failed registrations.
const (
	minBackoff = time.Second
	maxBackoff = 10 * time.Minute
	// rescanEvery is how often every device is checked for a pending
	// registration, in case the bridge dropped the event of a new one.
	rescanEvery = time.Minute
)

// CachesDir is the directory, in the state directory, holding one file
// per device with the provisioning server's decisions cached for it
// (XEP-0324 §5.2), so that they hold across a restart even while the
// server is unreachable: at most Provisioning.CacheSize decisions each,
// mode 0600, replaced atomically, saved every cacheSaveEvery when they
// changed, at once after a clearCache, and at shutdown.
const CachesDir = "concentrator-provisioning"

// cacheSaveEvery is how often changed decision caches are saved.
const cacheSaveEvery = 10 * time.Second

func registrationsDir(stateDir string) string { return filepath.Join(stateDir, RegistrationsDir) }

func cachesDir(stateDir string) string { return filepath.Join(stateDir, CachesDir) }

// cacheFile names a device's decision cache file, as stateFile.
func cacheFile(dir, deviceJID string) string {
	h := sha256.Sum256([]byte(deviceJID))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".xml")
}

// stateFile names a device's state file by a hash of its JID: localparts
// may be longer than file names.
func stateFile(dir, deviceJID string) string {
	h := sha256.Sum256([]byte(deviceJID))
	return filepath.Join(dir, hex.EncodeToString(h[:16])+".json")
}

// Claim is a device's standing in the thing registry, from its state file.
type Claim struct {
	// JID is the device's JID.
	JID string
	// Text is the claim text of its last registration ("IoTDisco;…"),
	// for xiot claim.
	Text string
	// Owner is the owner's bare JID once claimed.
	Owner string
	// Removed is set when the owner removed it from the registry.
	Removed bool
}

// Claims lists the registrations kept in stateDir, by JID: what an owner
// needs to claim the concentrator's devices. Damaged files are reported
// together after the others are read.
func Claims(stateDir string) ([]Claim, error) {
	dir := registrationsDir(stateDir)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("component: %w", err)
	}
	var out []Claim
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		st, err := thing.ReadState(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, Claim{JID: st.JID, Text: st.Claim, Owner: st.Owner, Removed: st.Removed})
	}
	slices.SortFunc(out, func(a, b Claim) int { return strings.Compare(a.JID, b.JID) })
	return out, errors.Join(errs...)
}

// regQueue holds the devices waiting to register, each once.
type regQueue struct {
	mu     sync.Mutex
	ids    []string
	queued map[string]bool
	wake   chan struct{}
}

func (q *regQueue) init() {
	q.queued = map[string]bool{}
	q.wake = make(chan struct{}, 1)
}

func (q *regQueue) push(id string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[id] {
		return
	}
	q.queued[id] = true
	q.ids = append(q.ids, id)
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// pop returns the next device, waiting for one until ctx ends.
func (q *regQueue) pop(ctx context.Context) (string, bool) {
	for {
		q.mu.Lock()
		if len(q.ids) > 0 {
			id := q.ids[0]
			q.ids[0] = ""
			q.ids = q.ids[1:]
			delete(q.queued, id)
			more := len(q.ids) > 0
			q.mu.Unlock()
			if more {
				select { // pass the wake-up on to the next worker
				case q.wake <- struct{}{}:
				default:
				}
			}
			return id, true
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return "", false
		case <-q.wake:
		}
	}
}

// start runs the registrations until the returned function is called,
// which waits for them to stop.
// The decision caches are saved meanwhile, and once more at the end.
func (p *provisioner) start(ctx context.Context) (stop func()) {
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if p.dir != "" {
		wg.Go(func() { p.feed(ctx) })
		for range p.opts.MaxRegistering {
			wg.Go(func() { p.work(ctx) })
		}
	}
	if p.caches != "" {
		wg.Go(func() {
			t := time.NewTicker(cacheSaveEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
					p.saveCaches()
				}
			}
		})
	}
	return func() {
		cancel()
		wg.Wait()
		if p.caches != "" {
			p.saveCaches()
		}
	}
}

// feed queues every device not settled yet: all at start, new ones as the
// bridge reports them, and all again now and then.
func (p *provisioner) feed(ctx context.Context) {
	events, cancel := p.c.b.Subscribe(1024)
	defer cancel()
	tick := time.NewTicker(rescanEvery)
	defer tick.Stop()
	p.rescan()
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-events:
			if e.Kind == mqttbridge.EventDevice {
				p.queue.push(e.Device)
			}
		case <-tick.C:
			p.rescan()
		}
	}
}

// rescan queues the devices that are neither settled nor waiting for a
// retry, and the settled ones whose meta tags changed (in case the
// bridge dropped the event of a new Homie $name).
func (p *provisioner) rescan() {
	for _, dev := range p.c.b.Devices() {
		p.mu.Lock()
		ts := p.things[dev.ID]
		p.mu.Unlock()
		if ts != nil {
			ts.mu.Lock()
			settled, failing, reg := ts.settled, ts.failures > 0, ts.reg
			ts.mu.Unlock()
			if failing {
				continue
			}
			if settled {
				d := p.c.deviceByID(dev.ID)
				if reg == nil || d == nil {
					continue
				}
				if reg.SetTags(p.tagsOf(d)); !reg.Unsent() {
					continue
				}
			}
		}
		p.queue.push(dev.ID)
	}
}

// work registers queued devices one at a time while the component is
// online.
func (p *provisioner) work(ctx context.Context) {
	for {
		id, ok := p.queue.pop(ctx)
		if !ok {
			return
		}
		select {
		case <-p.c.sess.Online():
		case <-ctx.Done():
			return
		}
		d := p.c.deviceByID(id)
		if d == nil {
			continue // its JID belongs to another device
		}
		ts := p.state(d, false)
		r, err := p.registration(d)
		if err == nil {
			// A new Homie $name changes the NAME tag: registered
			// again, or updated once claimed.
			// (Unsent too: another worker may have registered the old
			// tags meanwhile.)
			changed := r.SetTags(p.tagsOf(d))
			ts.mu.Lock()
			settled := ts.settled
			ts.mu.Unlock()
			if settled && !changed && !r.Unsent() {
				continue
			}
			_, err = r.Register(ctx)
		}
		ts.mu.Lock()
		if err == nil {
			ts.settled, ts.failures = true, 0
			ts.mu.Unlock()
			continue
		}
		ts.failures++
		n := ts.failures
		ts.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		wait := backoff(n)
		if n == 1 {
			p.log.Warn("registry: registration failed; retrying with backoff", "device", id, "retry_in", wait.Round(time.Second), "err", err)
		} else {
			p.log.Debug("registry: registration failed again", "device", id, "failures", n, "retry_in", wait.Round(time.Second), "err", err)
		}
		time.AfterFunc(wait, func() {
			if ctx.Err() == nil {
				p.queue.push(id)
			}
		})
	}
}

// backoff returns the wait after n failures in a row: doubling from
// minBackoff up to maxBackoff, with up to 25% random jitter so that
// devices that failed together do not retry together.
func backoff(n int) time.Duration {
	d := maxBackoff
	if n < 20 {
		d = min(minBackoff<<(n-1), maxBackoff)
	}
	return d - time.Duration(rand.Int64N(int64(d)/4+1))
}

// DeviceJID returns the JID a device id gets on the component domain.
func DeviceJID(id, domain string) string { return deviceJID(Localpart(id, domain), domain) }

// Unregister removes the device deviceJID from the thing registry reg
// (XEP-0347 §3.14), sending from the device's JID over s, a session of
// the concentrator's component domain, and once the registry acknowledged
// deletes the device's registration state (its KEY) and decision cache
// from stateDir. It returns the state the device had. A device without a
// registration state is not registered: the error then wraps
// os.ErrNotExist and nothing is sent.
//
// Run it while the concentrator is stopped (a server admits one
// connection per component domain), and once the device is no longer
// bridged: a device still bridged registers again, with a new KEY, at the
// concentrator's next start.
func Unregister(ctx context.Context, s *xmpp.Session, reg jid.JID, stateDir, deviceJID string) (thing.State, error) {
	st, err := thing.Unregister(ctx, s, reg, deviceJID, stateFile(registrationsDir(stateDir), deviceJID))
	if err != nil {
		return st, fmt.Errorf("component: %s: %w", deviceJID, err)
	}
	if err := os.Remove(cacheFile(cachesDir(stateDir), deviceJID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("component: %s: unregistered, but its decision cache stays: %w", deviceJID, err)
	}
	return st, nil
}
