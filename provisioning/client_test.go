package provisioning

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/sensors"
)

// offlineClient returns a client without a session: every question it has
// no cached answer for fails, as with an unreachable server.
func offlineClient(t *testing.T) *Client {
	t.Helper()
	return New(nil, jid.MustParse("prov@example.org"), Options{})
}

// TestCanReadAnswers checks how canReadResponse answers become the
// sensordata.Authorizer result, from cached answers.
func TestCanReadAnswers(t *testing.T) {
	from := jid.MustParse("reader@example.org/amr")
	tests := []struct {
		name          string
		types         sensors.ReadoutType
		nodes, fields []string
		answer        CanReadResponse
		want          []string
		wantErr       error
	}{
		{name: "refused", answer: CanReadResponse{}, want: []string{}},
		{name: "all allowed", answer: CanReadResponse{Result: true}, want: nil},
		{name: "fields named for all", answer: CanReadResponse{Result: true, Fields: []string{"Energy", "Power"}}, want: []string{"Energy", "Power"}},
		{name: "some fields", fields: []string{"Energy", "Temperature"}, answer: CanReadResponse{Result: true, Fields: []string{"Energy", "Power"}}, want: []string{"Energy"}},
		{name: "no requested field", fields: []string{"Temperature"}, answer: CanReadResponse{Result: true, Fields: []string{"Energy"}}, want: []string{}},
		{name: "all requested nodes", nodes: []string{"n1", "n2"}, answer: CanReadResponse{Result: true, Nodes: []NodeRef{{NodeID: "n2"}, {NodeID: "n1"}, {NodeID: "n3"}}}, want: nil},
		{name: "some nodes", nodes: []string{"n1", "n2"}, answer: CanReadResponse{Result: true, Nodes: []NodeRef{{NodeID: "n1"}}}, wantErr: ErrPartialNodes},
		{name: "types covered", types: sensors.Momentary, answer: CanReadResponse{Result: true, Types: sensors.Momentary | sensors.Peak}, want: nil},
		{name: "types narrowed", types: sensors.Momentary | sensors.Peak, answer: CanReadResponse{Result: true, Types: sensors.Momentary}, wantErr: ErrPartialTypes},
		{name: "types not echoed", types: sensors.Momentary | sensors.Peak, answer: CanReadResponse{Result: true}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := offlineClient(t)
			tok := Tokens{User: "U1"}
			q := CanRead{JID: "reader@example.org", Types: tt.types, Nodes: nodeRefs(tt.nodes), Fields: tt.fields, Tokens: tok}
			ans := tt.answer
			ans.JID = q.JID
			c.cache.put(readKey(q), q.JID, ans, c.cache.generation())
			ctx := WithReadoutTypes(WithTokens(context.Background(), tok), tt.types)
			got, err := c.CanRead(ctx, from, tt.nodes, tt.fields)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("allowed = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestCanControlAnswers(t *testing.T) {
	from := jid.MustParse("op@example.org/ui")
	tests := []struct {
		name          string
		nodes, params []string
		answer        CanControlResponse
		want          []string
		wantErr       error
	}{
		{name: "refused", params: []string{"Output"}, answer: CanControlResponse{}, want: []string{}},
		{name: "all allowed", params: []string{"Output", "Level"}, answer: CanControlResponse{Result: true}, want: []string{"Output", "Level"}},
		{name: "some parameters", params: []string{"Output", "Level"}, answer: CanControlResponse{Result: true, Params: []string{"Level", "Other"}}, want: []string{"Level"}},
		{name: "no parameter", params: []string{"Output"}, answer: CanControlResponse{Result: true, Params: []string{"Level"}}, want: []string{}},
		{name: "device itself", nodes: []string{""}, params: []string{"Output"}, answer: CanControlResponse{Result: true, Nodes: []NodeRef{{NodeID: "n1"}}}, want: []string{"Output"}},
		{name: "some nodes", nodes: []string{"n1", "n2"}, params: []string{"Output"}, answer: CanControlResponse{Result: true, Nodes: []NodeRef{{NodeID: "n2"}}}, wantErr: ErrPartialNodes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := offlineClient(t)
			q := CanControl{JID: "op@example.org", Nodes: nodeRefs(tt.nodes), Params: tt.params}
			ans := tt.answer
			ans.JID = q.JID
			c.cache.put(controlKey(q), q.JID, ans, c.cache.generation())
			got, err := c.CanControl(context.Background(), from, tt.nodes, tt.params)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("allowed = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestFailClosedWithoutServer checks that only cached decisions hold when
// no server can be asked.
func TestFailClosedWithoutServer(t *testing.T) {
	c := offlineClient(t)
	ctx := context.Background()
	friend := jid.MustParse("friend@example.org")
	c.cache.put(friendKey(IsFriend{JID: friend.String()}), friend.String(), IsFriendResponse{JID: friend.String(), Result: true}, c.cache.generation())
	if ok, err := c.IsFriend(ctx, jid.MustParse("friend@example.org/phone")); !ok || err != nil {
		t.Fatalf("cached friend: %v, %v", ok, err)
	}
	if ok, err := c.IsFriend(ctx, jid.MustParse("stranger@example.org")); ok || !errors.Is(err, ErrNoDecision) {
		t.Fatalf("uncached friend: %v, %v; want refusal with ErrNoDecision", ok, err)
	}
	if got, err := c.CanRead(ctx, friend, nil, nil); got != nil || !errors.Is(err, ErrNoDecision) {
		t.Fatalf("uncached read: %v, %v", got, err)
	}
	if got, err := c.CanControl(ctx, friend, nil, []string{"Output"}); got != nil || !errors.Is(err, ErrNoDecision) {
		t.Fatalf("uncached control: %v, %v", got, err)
	}
	c.ClearCache()
	if ok, err := c.IsFriend(ctx, friend); ok || err == nil {
		t.Fatalf("after ClearCache: %v, %v", ok, err)
	}
}

func TestIsFriendServerItself(t *testing.T) {
	c := offlineClient(t)
	if ok, err := c.IsFriend(context.Background(), jid.MustParse("prov@example.org/x")); !ok || err != nil {
		t.Fatalf("IsFriend(server) = %v, %v", ok, err)
	}
}

// TestTokenWindow checks that a token counts as sent to a party for one
// minute (§3.1.3.2), and only to that party.
func TestTokenWindow(t *testing.T) {
	clk := newFakeClock()
	l := newTokenLog(clk.now)
	prov, alice := jid.MustParse("prov@example.org"), jid.MustParse("alice@example.org/amr")
	l.note("T1", prov, alice)
	if u, ok := l.lookup("T1", jid.MustParse("prov@example.org/res")); !ok || !u.origin.Equal(alice) {
		t.Fatalf("lookup = %#v, %v", u, ok)
	}
	if _, ok := l.lookup("T1", jid.MustParse("mallory@example.org")); ok {
		t.Fatal("a token sent to prov is challengeable by mallory")
	}
	if _, ok := l.lookup("T2", prov); ok {
		t.Fatal("an unknown token is challengeable")
	}
	clk.add(59 * time.Second)
	if _, ok := l.lookup("T1", prov); !ok {
		t.Fatal("expired within the minute")
	}
	clk.add(2 * time.Second)
	if _, ok := l.lookup("T1", prov); ok {
		t.Fatal("still challengeable after a minute")
	}
	// A flood of tokens stays bounded.
	for i := range maxTokenLog + 10 {
		l.note(fmt.Sprint("F", i), prov, alice)
	}
	if n := len(l.uses); n > maxTokenLog {
		t.Fatalf("%d token uses remembered", n)
	}
}

func TestSetServerWithoutServer(t *testing.T) {
	c := offlineClient(t)
	fill(c)
	c.SetServer(jid.JID{})
	if c.Cached() != 0 {
		t.Fatal("SetServer kept the cache")
	}
	if ok, err := c.IsFriend(context.Background(), jid.MustParse("prov@example.org")); ok || !errors.Is(err, ErrNoDecision) {
		t.Fatalf("IsFriend without a server = %v, %v", ok, err)
	}
}
