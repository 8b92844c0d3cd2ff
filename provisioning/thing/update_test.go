package thing_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/sqlstore"
	"github.com/xiot/xiot/provisioning/thing"
)

// fixture is a real Prosody with `xiot registry`'s server as a component
// (SQLite store) and an owner account.
type fixture struct {
	p     *testserver.Prosody
	reg   jid.JID
	owner registry.Owner
	n     int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	st, err := sqlstore.Open(context.Background(), filepath.Join(t.TempDir(), "registry.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mux := &xmpp.Mux{}
	sess := xmpp.New(xmpp.Config{JID: jid.MustParse(p.ComponentDomain), Password: p.ComponentSecret, Component: true,
		Server: p.ComponentAddr, NoTLS: true}, mux)
	srv, err := registry.New(sess, registry.Options{Store: st, NotifyTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Register(mux)
	f := &fixture{p: p, reg: jid.MustParse(p.ComponentDomain)}
	f.connect(t, sess)
	t.Cleanup(func() { sess.Close(); srv.Close(); st.Close() })
	f.owner = registry.Owner{Session: f.client(t, "owner", nil), Registry: p.ComponentDomain}
	return f
}

func (f *fixture) connect(t *testing.T, s *xmpp.Session) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
}

// client registers user and logs in; mux nil answers no notices, as a
// thing that was offline when the registry sent them.
func (f *fixture) client(t *testing.T, user string, mux *xmpp.Mux) *xmpp.Session {
	t.Helper()
	if err := f.p.Register(user, user+"-pass"); err != nil {
		t.Fatal(err)
	}
	if mux == nil {
		mux = &xmpp.Mux{}
	}
	s := xmpp.New(xmpp.Config{JID: jid.MustParse(user + "@" + f.p.Domain + "/t"), Password: user + "-pass",
		Server: f.p.C2SAddr, TLS: f.p.TLSConfig(), Keepalive: -1}, mux)
	f.connect(t, s)
	return s
}

// thing is a registered thing with its session and state file.
type thingUnderTest struct {
	r         *thing.Registration
	sess      *xmpp.Session
	jid, file string
	disowned  []string
}

// register makes a new thing with tags and registers it.
func (f *fixture) register(t *testing.T, tags ...registry.Tag) *thingUnderTest {
	t.Helper()
	f.n++
	user := "thing" + string(rune('a'+f.n))
	tu := &thingUnderTest{sess: f.client(t, user, nil), jid: user + "@" + f.p.Domain, file: filepath.Join(t.TempDir(), "registration.json")}
	tu.r = f.open(t, tu)
	if st, err := tu.r.Register(context.Background()); err != nil || st != thing.Registered {
		t.Fatalf("first Register: %v, %v", st, err)
	}
	return tu
}

// open reads the thing's state file again, as a restarted device.
func (f *fixture) open(t *testing.T, tu *thingUnderTest, tags ...registry.Tag) *thing.Registration {
	t.Helper()
	r, err := thing.New(tu.sess, thing.Options{Registry: f.reg, Tags: tags, StateFile: tu.file, Timeout: 5 * time.Second,
		OnDisowned: func(_ context.Context, former jid.JID) { tu.disowned = append(tu.disowned, former.String()) }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// claim claims the thing as the owner and lets the thing find out.
func (f *fixture) claim(t *testing.T, tu *thingUnderTest) registry.Key {
	t.Helper()
	tags, err := registry.ParseClaimURI(tu.r.ClaimText())
	if err != nil {
		t.Fatal(err)
	}
	k, err := f.owner.Claim(context.Background(), tags, true)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := tu.r.Register(context.Background()); err != nil || st != thing.Claimed {
		t.Fatalf("Register after the claim: %v, %v", st, err)
	}
	return k
}

// registered returns the thing's tags in the registry, KEY aside, and
// whether the owner lists it.
func (f *fixture) registered(t *testing.T, tu *thingUnderTest) ([]registry.Tag, bool) {
	t.Helper()
	things, err := f.owner.Things(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, th := range things {
		if th.JID == tu.jid {
			return slices.DeleteFunc(th.Tags, func(g registry.Tag) bool { return g.Name == registry.KeyTag }), true
		}
	}
	return nil, false
}

// TestUpdateAndUnregister runs the thing side of XEP-0347's update and
// unregister against the registry server of `xiot registry`, through
// every answer the registry gives.
func TestUpdateAndUnregister(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	man := registry.Tag{Name: "MAN", Value: "xiot.example"}
	model := func(v string) registry.Tag { return registry.Tag{Name: "MODEL", Value: v} }

	t.Run("claimed thing sends changed tags only", func(t *testing.T) {
		tu := f.register(t)
		tu.r = f.open(t, tu, man, model("a"), registry.Tag{Name: "V", Num: 1, Numeric: true})
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Registered {
			t.Fatalf("Register with tags: %v, %v", st, err)
		}
		f.claim(t, tu)
		// A restart with other tags: model changed, V gone, LOC new.
		tu.r = f.open(t, tu, man, model("b"), registry.Tag{Name: "loc", Value: "lab"})
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Updated {
			t.Fatalf("Register with changed tags: %v, %v", st, err)
		}
		want := []registry.Tag{{Name: "LOC", Value: "lab"}, man, model("b")}
		if got, _ := f.registered(t, tu); !slices.Equal(got, want) {
			t.Errorf("registry has %v, want %v", got, want)
		}
		if st := tu.r.State(); !slices.Equal(st.Tags, want) || st.Owner != "owner@"+f.p.Domain {
			t.Errorf("state %+v", st)
		}
		// Unchanged after a restart: nothing is sent.
		tu.r = f.open(t, tu, model("b"), man, registry.Tag{Name: "LOC", Value: "lab"})
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Skipped {
			t.Errorf("Register with the same tags: %v, %v", st, err)
		}
		if !tu.r.SetTags([]registry.Tag{man, model("c")}) || tu.r.SetTags([]registry.Tag{model("c"), man}) {
			t.Error("SetTags does not tell changed from unchanged tags")
		}
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Updated {
			t.Errorf("Register after SetTags: %v, %v", st, err)
		}
		if got, _ := f.registered(t, tu); !slices.Equal(got, []registry.Tag{man, model("c")}) {
			t.Errorf("registry has %v after SetTags", got)
		}

		// Unregistered: gone from the registry, the state file deleted;
		// a second time is refused without sending anything.
		if _, err := thing.Unregister(ctx, tu.sess, f.reg, "", tu.file); err != nil {
			t.Fatal(err)
		}
		if _, ok := f.registered(t, tu); ok {
			t.Error("the owner still lists the unregistered thing")
		}
		if _, err := os.Stat(tu.file); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("state file after Unregister: %v", err)
		}
		if _, err := thing.Unregister(ctx, tu.sess, f.reg, "", tu.file); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("second Unregister: %v", err)
		}
	})

	t.Run("removed by the owner while offline", func(t *testing.T) {
		tu := f.register(t)
		k := f.claim(t, tu)
		if err := f.owner.Remove(ctx, k); err != nil {
			t.Fatal(err)
		}
		// The thing missed the removed notice: its update is refused,
		// and the registration that follows says it is still claimed.
		tu.r = f.open(t, tu, model("x"))
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Removed {
			t.Fatalf("Register after the removal: %v, %v", st, err)
		}
		if st := tu.r.State(); !st.Removed || st.Owner != "" {
			t.Errorf("state %+v", st)
		}
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Skipped {
			t.Errorf("Register once removed: %v, %v", st, err)
		}
	})

	t.Run("registry lost the thing", func(t *testing.T) {
		tu := f.register(t)
		f.claim(t, tu)
		iq := xmpp.NewElement("", "iq", "type", "set", "to", f.reg.String()).Add(xmpp.NewElement(thing.NS, "unregister"))
		if _, err := tu.sess.SendIQ(ctx, iq); err != nil {
			t.Fatal(err)
		}
		tu.r = f.open(t, tu, model("y"))
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Registered {
			t.Fatalf("Register after the loss: %v, %v", st, err)
		}
		if st := tu.r.State(); st.Owner != "" || st.Removed || !slices.Equal(st.Tags, []registry.Tag{model("y")}) {
			t.Errorf("state %+v", st)
		}
		if len(tu.disowned) != 1 || tu.disowned[0] != "owner@"+f.p.Domain {
			t.Errorf("OnDisowned calls %v", tu.disowned)
		}
		tags, err := registry.ParseClaimURI(tu.r.ClaimText())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.owner.Claim(ctx, tags, true); err != nil {
			t.Errorf("claiming the thing registered anew: %v", err)
		}
	})

	t.Run("disowned while offline", func(t *testing.T) {
		tu := f.register(t)
		// The state says claimed, the registry does not (a disowned
		// notice the thing never got).
		b, err := os.ReadFile(tu.file)
		if err != nil {
			t.Fatal(err)
		}
		var st map[string]any
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		st["owner"] = "owner@" + f.p.Domain
		if b, err = json.Marshal(st); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tu.file, b, 0o600); err != nil {
			t.Fatal(err)
		}
		tu.r = f.open(t, tu, model("z"))
		if _, ok := tu.r.Owner(); !ok {
			t.Fatal("the edited state has no owner")
		}
		if st, err := tu.r.Register(ctx); err != nil || st != thing.Registered {
			t.Fatalf("Register: %v, %v", st, err)
		}
		if _, ok := tu.r.Owner(); ok || len(tu.disowned) != 1 {
			t.Errorf("owner kept after the disowned answer; OnDisowned calls %v", tu.disowned)
		}
		if got, _ := f.registered(t, tu); got != nil {
			t.Errorf("the owner lists the thing: %v", got)
		}
	})
}
