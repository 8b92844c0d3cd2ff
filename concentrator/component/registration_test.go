package component_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/thing"
	"github.com/xiot/xiot/sensors/sensordata"
)

// registryPeer plays the thing registry's part on a component session of
// its own: it answers the first refusals registrations of the device JID
// refused with an error and the others with success, holding each for a
// while so that the registrations in flight can be counted.
type registryPeer struct {
	s        *xmpp.Session
	refused  string
	refusals int

	mu       sync.Mutex
	inFlight int
	maxIn    int
	attempts map[string][]time.Time // device JID → registrations
}

func (rp *registryPeer) handle(ctx context.Context, s *xmpp.Session, iq *xmpp.Element) error {
	from := iq.Get("from")
	rp.mu.Lock()
	rp.inFlight++
	rp.maxIn = max(rp.maxIn, rp.inFlight)
	rp.attempts[from] = append(rp.attempts[from], time.Now())
	refuse := from == rp.refused && len(rp.attempts[from]) <= rp.refusals
	rp.mu.Unlock()
	go func() {
		time.Sleep(20 * time.Millisecond)
		rp.mu.Lock()
		rp.inFlight--
		rp.mu.Unlock()
		reply := xmpp.ResultIQ(iq, nil)
		if refuse {
			reply = xmpp.ErrorReply(iq, xmpp.NewStanzaError("wait", "resource-constraint", "busy"))
		}
		_ = s.Send(ctx, reply)
	}()
	return nil
}

func (rp *registryPeer) snapshot() (maxIn int, attempts map[string][]time.Time) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	attempts = map[string][]time.Time{}
	for k, v := range rp.attempts {
		attempts[k] = append([]time.Time(nil), v...)
	}
	return rp.maxIn, attempts
}

// TestRegistrationsBoundedWithBackoff: 150 bridged devices register with
// a thing registry at most MaxRegistering at a time; a refused
// registration is retried after a backoff that doubles (1 s, 2 s, less
// up to 25% jitter); each
// device gets its own 0600 state file, listed by Claims; the registry's
// claimed notice makes the owner a friend of that device, a notice from
// anybody else is refused, and disowned makes the device unfriend the
// owner and register again; removed is recorded.
func TestRegistrationsBoundedWithBackoff(t *testing.T) {
	const devices, maxRegistering = 150, 3
	const regDomain = "registry.localhost"
	regSecret := fmt.Sprintf("reg-%d", time.Now().UnixNano())
	r := &rig{dir: t.TempDir()}
	r.p = testserver.StartProsody(t, testserver.ProsodyOptions{
		ExtraConfig: fmt.Sprintf("Component %q\n    component_secret = %q\n", regDomain, regSecret),
	})
	r.m = testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	for _, u := range []string{"owner", "stranger"} {
		if err := r.p.Register(u, u+"-pass"); err != nil {
			t.Fatal(err)
		}
	}
	pub := mqttClient(t, r.m, "sim-many", nil)
	for i := range devices {
		publish(t, pub, fmt.Sprintf("plain/dev%03d/Temperature", i), "20.5")
	}

	refused := "dev149@" + r.p.ComponentDomain
	rp := &registryPeer{attempts: map[string][]time.Time{}, refused: refused, refusals: 2}
	regMux := &xmpp.Mux{}
	regMux.IQ("set", thing.NS, "register", xmpp.HandlerFunc(rp.handle))
	rp.s = xmpp.New(xmpp.Config{JID: jid.MustParse(regDomain), Password: regSecret, Component: true,
		Server: r.p.ComponentAddr, NoTLS: true, Keepalive: -1, Logger: testLogger(t)}, regMux)
	ctx, cancel := context.WithTimeout(context.Background(), 4*deadline)
	defer cancel()
	if err := rp.s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer rp.s.Close()
	owner := r.login(t, "owner")
	stranger := r.login(t, "stranger")

	b, err := mqttbridge.New(config.MQTT{Brokers: []string{"tcp://" + r.m.Addr}, ClientID: "concentrator-" + t.Name(),
		Mappings: mappings}, mqttbridge.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the devices in the bridge", func() bool { return len(b.Devices()) == devices })
	c, err := component.New(component.Options{
		Session: xmpp.Config{JID: jid.MustParse(r.p.ComponentDomain), Password: r.p.ComponentSecret, Component: true,
			Server: r.p.ComponentAddr, NoTLS: true, Logger: testLogger(t)},
		Bridge: b, StateDir: r.dir, Logger: testLogger(t),
		Provisioning: &component.Provisioning{Registry: jid.MustParse(regDomain), MaxRegistering: maxRegistering},
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(cctx) }()
	defer func() { stop(); <-done }()

	// Every device registers, the refused one after two retries.
	end := time.Now().Add(3 * deadline)
	for {
		_, attempts := rp.snapshot()
		if len(attempts) == devices && len(attempts[refused]) == 3 {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("%d of %d devices registered; %d attempts of %s", len(attempts), devices, len(attempts[refused]), refused)
		}
		time.Sleep(50 * time.Millisecond)
	}
	maxIn, attempts := rp.snapshot()
	if maxIn > maxRegistering {
		t.Errorf("%d registrations in flight at once, want at most %d", maxIn, maxRegistering)
	}
	for from, a := range attempts {
		if from != refused && len(a) != 1 {
			t.Errorf("%s registered %d times, want once", from, len(a))
		}
	}
	a := attempts[refused]
	for i, want := range []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond} {
		if gap := a[i+1].Sub(a[i]); gap < want || gap > 2*want {
			t.Errorf("retry %d of %s after %v, want the backoff (%v to %v)", i+1, refused, gap, want, 2*want)
		}
	}
	claims, err := component.Claims(r.dir)
	if err != nil || len(claims) != devices {
		t.Fatalf("Claims: %d, %v", len(claims), err)
	}
	for _, cl := range claims {
		if cl.Owner != "" || len(cl.Text) < 40 || attempts[cl.JID] == nil {
			t.Errorf("claim %+v", cl)
		}
	}
	ents, err := os.ReadDir(filepath.Join(r.dir, component.RegistrationsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v", e.Name(), fi.Mode().Perm(), err)
		}
	}

	// The registry says dev007 was claimed: the owner becomes its friend.
	dev := "dev007@" + r.p.ComponentDomain
	ownerJID := "owner@" + r.p.Domain
	notice := func(from *xmpp.Session, local string, attrs ...string) error {
		iq := xmpp.NewElement("", "iq", "type", "set", "to", dev).Add(xmpp.NewElement(thing.NS, local, attrs...))
		if from == rp.s {
			iq.Set("from", regDomain)
		}
		_, err := from.SendIQ(ctx, iq)
		return err
	}
	skip := owner.presences()
	if err := notice(stranger.s, "claimed", "jid", "stranger@"+r.p.Domain); err == nil {
		t.Error("a stranger's claimed notice was accepted")
	}
	if err := notice(rp.s, "claimed", "jid", ownerJID); err != nil {
		t.Fatal(err)
	}
	owner.waitPresence(t, dev, "subscribe", skip)
	if err := owner.s.Send(ctx, xmpp.NewElement("", "presence", "to", dev, "type", "subscribed")); err != nil {
		t.Fatal(err)
	}
	if cs, _ := component.Claims(r.dir); !hasClaim(cs, dev, ownerJID) {
		t.Errorf("after the claim, Claims has no %s owned by %s", dev, ownerJID)
	}
	// The owner may now read it (the concentrator has no configured owners).
	res, err := owner.sd.Read(ctx, owner.s, dev, sensordata.Request{})
	if err != nil || len(res.Fields) != 1 {
		t.Errorf("the owner's read after the claim: %v %v", res, err)
	}
	if _, err := stranger.sd.Read(ctx, stranger.s, dev, sensordata.Request{}); err == nil {
		t.Error("the stranger read the device")
	}

	// Disowned: the owner is unfriended and the device registers again.
	skip = owner.presences()
	if err := notice(rp.s, "disowned"); err != nil {
		t.Fatal(err)
	}
	owner.waitPresence(t, dev, "unsubscribe", skip)
	waitFor(t, "a new registration after disowning", func() bool {
		_, a := rp.snapshot()
		return len(a[dev]) == 2
	})
	if cs, _ := component.Claims(r.dir); !hasClaim(cs, dev, "") {
		t.Errorf("after disowning, Claims has no unclaimed %s", dev)
	}

	// Claimed again, then removed by the owner: recorded as removed.
	if err := notice(rp.s, "claimed", "jid", ownerJID); err != nil {
		t.Fatal(err)
	}
	if err := notice(rp.s, "removed"); err != nil {
		t.Fatal(err)
	}
	cs, err := component.Claims(r.dir)
	removed := false
	for _, c := range cs {
		removed = removed || (c.JID == dev && c.Removed && c.Owner == "")
	}
	if err != nil || !removed {
		t.Errorf("after removal, Claims has no removed %s: %v", dev, err)
	}
}

func hasClaim(cs []component.Claim, j, owner string) bool {
	for _, c := range cs {
		if c.JID == j && c.Owner == owner {
			return true
		}
	}
	return false
}
