package pep

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors"
)

// FuzzParseEvent checks that ParseEvent never panics and that every field
// it returns is well formed.
func FuzzParseEvent(f *testing.F) {
	f.Add(`<message xmlns='jabber:client' from='device@localhost'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:iot:sensordata'><item id='2026-11-24T10:00:00Z'><fields xmlns='urn:xmpp:iot:sensordata' seqnr='0' done='true'><node nodeId='bme280'><timestamp value='2026-11-24T10:00:00Z'><numeric name='Temperature' momentary='true' value='20.25' unit='°C'/></timestamp></node></fields></item></items></event></message>`)
	f.Add(`<message><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:iot:sensordata'><item/><retract id='x'/></items></event></message>`)
	f.Fuzz(func(t *testing.T, s string) {
		d := xml.NewDecoder(strings.NewReader(s))
		var el *xmpp.Element
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if st, ok := tok.(xml.StartElement); ok {
				if el, err = xmpp.ReadElement(d, st, xmpp.Limits{MaxDepth: 16}); err != nil {
					return
				}
				break
			}
		}
		fields, err := ParseEvent(el)
		if err != nil {
			return
		}
		for _, f := range fields {
			if f.Value.Kind() == sensors.KindNone {
				t.Fatalf("field without value from %q: %+v", s, f)
			}
		}
	})
}
