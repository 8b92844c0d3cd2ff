package provisioning

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/sensors"
)

// fill caches one decision of each kind, as answered questions would.
func fill(c *Client) {
	g := c.cache.generation()
	f := IsFriend{JID: "alice@example.org"}
	c.cache.putQ(friendKey(f), f.JID, f, IsFriendResponse{JID: f.JID, Result: true}, g)
	r := CanRead{JID: "alice@example.org", Types: sensors.Momentary, Nodes: []NodeRef{{NodeID: "n1"}}, Tokens: Tokens{User: "U"}}
	c.cache.putQ(readKey(r), r.JID, r, CanReadResponse{JID: r.JID, Result: true, Types: sensors.Momentary, Fields: []string{"Energy"}}, g)
	k := CanControl{JID: "bob@example.org", Params: []string{"Output", "Level"}}
	c.cache.putQ(controlKey(k), k.JID, k, CanControlResponse{JID: k.JID, Result: true, Params: []string{"Level"}}, g)
}

func TestSaveLoadCache(t *testing.T) {
	a := offlineClient(t)
	fill(a)
	var buf bytes.Buffer
	if err := a.SaveCache(&buf); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved: %s", buf.String())

	b := offlineClient(t)
	n, err := b.LoadCache(bytes.NewReader(buf.Bytes()))
	if err != nil || n != 3 {
		t.Fatalf("LoadCache = %d, %v; want 3", n, err)
	}
	// The loaded decisions answer without a server.
	ctx := context.Background()
	if ok, err := b.IsFriend(ctx, jid.MustParse("alice@example.org/x")); !ok || err != nil {
		t.Fatalf("IsFriend after load = %v, %v", ok, err)
	}
	rctx := WithReadoutTypes(WithTokens(ctx, Tokens{User: "U"}), sensors.Momentary)
	if got, err := b.CanRead(rctx, jid.MustParse("alice@example.org/x"), []string{"n1"}, nil); err != nil || !reflect.DeepEqual(got, []string{"Energy"}) {
		t.Fatalf("CanRead after load = %v, %v", got, err)
	}
	if got, err := b.CanControl(ctx, jid.MustParse("bob@example.org/x"), nil, []string{"Output", "Level"}); err != nil || !reflect.DeepEqual(got, []string{"Level"}) {
		t.Fatalf("CanControl after load = %v, %v", got, err)
	}
	// Saving again gives the same file (order of use aside: nothing was
	// reordered by lookups of all three in saved order).
	var again bytes.Buffer
	if err := b.SaveCache(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Fatalf("re-saved cache differs:\n%s\n%s", again.String(), buf.String())
	}

	// Saved for another server: ignored.
	other := New(nil, jid.MustParse("other@example.org"), Options{})
	if n, err := other.LoadCache(bytes.NewReader(buf.Bytes())); n != 0 || err != nil {
		t.Fatalf("LoadCache for another server = %d, %v", n, err)
	}
	if other.Cached() != 0 {
		t.Fatal("another server's decisions were loaded")
	}
}

func TestLoadCacheMalformed(t *testing.T) {
	const head = `<cache xmlns='urn:xiot:provisioning:cache:0' server='prov@example.org'>`
	tests := []string{
		``,
		`<cache server='prov@example.org'/>`,
		`<cache xmlns='urn:xiot:provisioning:cache:0'/>`,
		head + `<decision/></cache>`,
		head + `<decision><isFriend xmlns='urn:xmpp:iot:provisioning' jid='a@b'/></decision></cache>`,
		head + `<decision><isFriend xmlns='urn:xmpp:iot:provisioning' jid='a@b'/><canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='true'/></decision></cache>`,
		head + `<decision><isFriend xmlns='urn:xmpp:iot:provisioning' jid='a@b'/><isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='c@d' result='true'/></decision></cache>`,
		head + `<decision><isFriend xmlns='urn:xmpp:iot:provisioning' jid='a@b/r'/><isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b/r' result='true'/></decision></cache>`,
		head + `<decision><clearCache xmlns='urn:xmpp:iot:provisioning'/><clearCacheResponse xmlns='urn:xmpp:iot:provisioning'/></decision></cache>`,
		head + `<decision><isFriend xmlns='urn:xmpp:iot:provisioning' jid='a@b'/><isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='a@b' result='true'/></decision>`, // truncated
	}
	for _, s := range tests {
		c := offlineClient(t)
		if n, err := c.LoadCache(strings.NewReader(s)); !errors.Is(err, ErrMalformed) || n != 0 || c.Cached() != 0 {
			t.Errorf("LoadCache(%s) = %d, %v (cached %d); want ErrMalformed and nothing loaded", s, n, err, c.Cached())
		}
	}
}

// FuzzLoadCache checks that LoadCache never panics and that what it loads
// saves to a file that loads the same decisions.
func FuzzLoadCache(f *testing.F) {
	c := New(nil, jid.MustParse("prov@example.org"), Options{})
	fill(c)
	var buf bytes.Buffer
	_ = c.SaveCache(&buf)
	f.Add(buf.String())
	f.Add(`<cache xmlns='urn:xiot:provisioning:cache:0' server='prov@example.org'/>`)
	f.Fuzz(func(t *testing.T, s string) {
		c := New(nil, jid.MustParse("prov@example.org"), Options{})
		n, err := c.LoadCache(strings.NewReader(s))
		if err != nil {
			return
		}
		var saved bytes.Buffer
		if err := c.SaveCache(&saved); err != nil {
			t.Fatal(err)
		}
		d := New(nil, jid.MustParse("prov@example.org"), Options{})
		m, err := d.LoadCache(&saved)
		if err != nil || m != c.Cached() || n < m {
			t.Fatalf("reload of %s: %d, %v; want %d", saved.String(), m, err, c.Cached())
		}
	})
}
