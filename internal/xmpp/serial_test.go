package xmpp_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/xmpp"
)

// TestSerialHandlerMayWaitForAnswers: a handler that waits for an IQ answer
// blocks nothing when wrapped in Serial, runs stanzas in order, and
// refuses IQs beyond its queue.
func TestSerialHandlerMayWaitForAnswers(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 8)
	order := make(chan string, 8)
	h := xmpp.HandlerFunc(func(ctx context.Context, s *xmpp.Session, st *xmpp.Element) error {
		started <- struct{}{}
		<-release // stands for waiting on an answer the reading loop delivers
		order <- st.Get("id")
		return s.Send(ctx, xmpp.ResultIQ(st, nil))
	})
	mux := &xmpp.Mux{}
	mux.IQ("get", "urn:example:slow", "q", xmpp.Serial(h, 1))
	xmpp.HandlePing(mux)
	f, _, err := componentSessionMux(t, mux, func(c net.Conn, r *bufio.Reader) {
		req := func(id string) {
			io.WriteString(c, "<iq type='get' id='"+id+"' from='x@localhost/r' to='comp.localhost'><q xmlns='urn:example:slow'/></iq>")
		}
		// a is being handled; b waits in the queue (of 1); c is refused.
		req("a")
		<-started
		req("b")
		req("c")
		if !readUntil(r, `id="c"`) {
			return
		}
		// The reading loop is free: a ping is answered while the slow
		// handler still waits.
		io.WriteString(c, "<iq type='get' id='p' from='x@localhost/r' to='comp.localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
		if !readUntil(r, `id="p"`) {
			return
		}
		close(release)
		readUntil(r, `id="b"`)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := f.received()
	if !strings.Contains(got, `id="c"`) || !strings.Contains(got, "resource-constraint") {
		t.Errorf("the third request beyond the queue was not refused: %s", tail(got))
	}
	for _, want := range []string{"a", "b"} {
		select {
		case id := <-order:
			if id != want {
				t.Errorf("handled %s, want %s", id, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("request %s not handled", want)
		}
	}
}
