package provisioning_test

import (
	"context"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning"
)

// BenchmarkCanRead compares a canRead decided by a round trip to the
// provisioning server (through a real Prosody) with one answered from the
// cache.
func BenchmarkCanRead(b *testing.B) {
	p := testserver.StartProsody(b, testserver.ProsodyOptions{})
	register(b, p, "device", "prov")
	prov := newProvPeer()
	prov.setRule("alice@localhost", rule{read: true, readFields: []string{"Energy", "Power"}})
	pmux := &xmpp.Mux{}
	prov.register(pmux)
	prov.sess = connect(b, clientConfig(b, p, "prov", "prov"), pmux)
	dev := connect(b, clientConfig(b, p, "device", "dev"), nil)
	alice := jid.MustParse("alice@localhost/amr")
	fields := []string{"Energy", "Temperature"}
	ctx := context.Background()

	for _, bc := range []struct {
		name  string
		cache int
	}{{"round-trip", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			c := provisioning.New(dev, jid.MustParse("prov@localhost/prov"), provisioning.Options{CacheSize: bc.cache})
			if _, err := c.CanRead(ctx, alice, nil, fields); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if got, err := c.CanRead(ctx, alice, nil, fields); err != nil || len(got) != 1 {
					b.Fatalf("CanRead = %v, %v", got, err)
				}
			}
		})
	}
}
