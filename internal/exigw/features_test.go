package exigw

import (
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
)

// The features a device sees: upstream's, without STARTTLS and channel
// binding, with the XEP-0322 methods when EXI is offered.
func TestDeviceFeatures(t *testing.T) {
	up := xmpp.NewElement(xmpp.NSStream, "features").Add(
		xmpp.NewElement(xmpp.NSTLS, "starttls"),
		xmpp.NewElement(xmpp.NSSASL, "mechanisms").Add(
			xmpp.NewElement(xmpp.NSSASL, "mechanism").AddText("SCRAM-SHA-1-PLUS"),
			xmpp.NewElement(xmpp.NSSASL, "mechanism").AddText("SCRAM-SHA-256")),
		xmpp.NewElement(xmpp.NSCompressFeature, "compression").Add(xmpp.NewElement(xmpp.NSCompressFeature, "method").AddText("zlib")),
		xmpp.NewElement(xmpp.NSSM, "sm"))
	for _, tc := range []struct {
		alt      int
		offer    bool
		want     []string
		wantNone []string
	}{
		{0, false, []string{"SCRAM-SHA-256", "urn:xmpp:sm:3"}, []string{"starttls", "PLUS", "compression"}},
		{0, true, []string{">exi<"}, []string{"exi:", "zlib"}},
		{15222, true, []string{">exi<", ">exi:15222<"}, []string{"zlib"}},
	} {
		r := &relay{g: &Gateway{cfg: Config{AltPort: tc.alt}}, feats: up}
		got := r.deviceFeatures(tc.offer).String()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("alt %d offer %v: %s lacks %q", tc.alt, tc.offer, got, w)
			}
		}
		for _, w := range tc.wantNone {
			if strings.Contains(got, w) {
				t.Errorf("alt %d offer %v: %s has %q", tc.alt, tc.offer, got, w)
			}
		}
	}
}
