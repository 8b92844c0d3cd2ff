package provisioning_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/control"
	"github.com/xiot/xiot/control/iotcontrol"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// TestControlThroughProvisioning serves XEP-0325 sets authorised by the
// provisioning client. iotcontrol calls its hook on the reading goroutine,
// so the client asks over a session of its own (a second resource of the
// device account) and is registered on both muxes: a requester allowed one
// of two parameters gets exactly that one set, a stranger is refused, and
// the second set is decided from the cache.
func TestControlThroughProvisioning(t *testing.T) {
	t.Parallel()
	p := testserver.StartProsody(t, testserver.ProsodyOptions{})
	register(t, p, "device", "prov", "alice", "bob")
	prov := newProvPeer()
	prov.setRule("alice@localhost", rule{control: true, controlParams: []string{"Output"}})
	pmux := &xmpp.Mux{}
	prov.register(pmux)
	prov.sess = connect(t, clientConfig(t, p, "prov", "prov"), pmux)

	ctl, err := control.New([]control.Point{
		{Param: control.Param{Name: "Output", Type: control.TypeBoolean}, Output: control.NewVirtual("Output", control.TypeBoolean, nil), Initial: control.Bool(false)},
		{Param: control.Param{Name: "Level", Type: control.TypeDouble}, Output: control.NewVirtual("Level", control.TypeDouble, nil), Initial: control.Double(0)},
	}, control.Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctl.Online()
	cctx, cancel := context.WithCancel(context.Background())
	go ctl.Run(cctx)
	t.Cleanup(func() { cancel(); ctl.Shutdown() })

	qmux := &xmpp.Mux{}
	questions := connect(t, clientConfig(t, p, "device", "provisioning"), qmux)
	client := provisioning.New(questions, jid.MustParse("prov@localhost/prov"), provisioning.Options{Timeout: 2 * time.Second, Logger: testLogger(t)})
	client.Register(qmux)
	mux := &xmpp.Mux{}
	client.Register(mux)
	iotcontrol.NewServer(ctl, iotcontrol.ServerOptions{CanControl: client.CanControl}).Register(mux)
	dev := connect(t, clientConfig(t, p, "device", "dev"), mux)
	ctx := ctxT(t)

	n := 0
	set := func(user string) (iotcontrol.SetResponse, error) {
		n++
		s := connect(t, clientConfig(t, p, user, fmt.Sprint("ui", n)), nil)
		return iotcontrol.Set(ctx, s, dev.LocalJID().String(), iotcontrol.SetRequest{Params: []iotcontrol.Param{
			{Type: control.TypeBoolean, Name: "Output", Value: "true"},
			{Type: control.TypeDouble, Name: "Level", Value: "5"},
		}})
	}
	for range 2 {
		res, err := set("alice")
		if err != nil || !reflect.DeepEqual(res.Params, []string{"Output"}) {
			t.Fatalf("alice's set = %#v, %v; want only Output set", res, err)
		}
	}
	if n := prov.count("canControl"); n != 1 {
		t.Fatalf("server asked %d canControl questions, want 1", n)
	}
	_, err = set("bob")
	var se *xmpp.StanzaError
	if !errors.As(err, &se) || se.Condition != "forbidden" {
		t.Fatalf("bob's set: %v, want forbidden", err)
	}
}
