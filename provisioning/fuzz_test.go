package provisioning

import (
	"reflect"
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// FuzzParse checks that Parse never panics and that whatever it accepts
// encodes to an element that decodes to the same value.
func FuzzParse(f *testing.F) {
	seeds := []string{
		`<isFriend xmlns='urn:xmpp:iot:provisioning' jid='client1@example.org'/>`,
		`<isFriendResponse xmlns='urn:xmpp:iot:provisioning' jid='client1@example.org' result='true' secondaryTrustAllowed='1'/>`,
		`<Friend xmlns='urn:xmpp:iot:provisioning' jid='c@x'/>`,
		`<unfriend xmlns='urn:xmpp:iot:provisioning' jid='c@x'/>`,
		`<canRead xmlns='urn:xmpp:iot:provisioning' jid='p@x' historical='true' peak='true' serviceToken='S1 S2' userToken='U'><node nodeId='D2' sourceId='s' cacheType='c'/><field name='Energy'/></canRead>`,
		`<canReadResponse xmlns='urn:xmpp:iot:provisioning' jid='p@x' all='true' result='true'><node nodeId='D2'/><field name='Power'/></canReadResponse>`,
		`<canControl xmlns='urn:xmpp:iot:provisioning' jid='p@x' deviceToken='D'><node nodeId='N'/><parameter name='Output'/></canControl>`,
		`<canControlResponse xmlns='urn:xmpp:iot:provisioning' jid='p@x' result='false'><parameter name='Output'/></canControlResponse>`,
		`<clearCache xmlns='urn:xmpp:iot:provisioning'/>`,
		`<clearCacheResponse xmlns='urn:xmpp:iot:provisioning'/>`,
		`<getToken xmlns='urn:xmpp:iot:provisioning'>AQID BA==</getToken>`,
		`<getTokenChallenge xmlns='urn:xmpp:iot:provisioning' seqnr='1'>BQY=</getTokenChallenge>`,
		`<getTokenChallengeResponse xmlns='urn:xmpp:iot:provisioning' seqnr='-7'>Bwg=</getTokenChallengeResponse>`,
		`<getTokenResponse xmlns='urn:xmpp:iot:provisioning' token='TOKEN'/>`,
		`<tokenChallenge xmlns='urn:xmpp:iot:provisioning' token='T'>CQo=</tokenChallenge>`,
		`<tokenChallengeResponse xmlns='urn:xmpp:iot:provisioning'>Cww=</tokenChallengeResponse>`,
		CanRead{JID: "a@b", Types: sensors.AllTypes &^ sensors.HistoricalYear}.Element().String(),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parseXML(s)
		if err != nil {
			return
		}
		v, err := Parse(e)
		if err != nil {
			return
		}
		enc, ok := v.(interface{ Element() *xmpp.Element })
		if !ok {
			t.Fatalf("%T has no Element method", v)
		}
		back, err := Parse(enc.Element())
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc.Element(), err)
		}
		if !reflect.DeepEqual(back, v) {
			t.Fatalf("round trip:\ngot  %#v\nwant %#v", back, v)
		}
	})
}
