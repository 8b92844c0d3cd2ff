package component

import (
	"bytes"
	"encoding/xml"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// FuzzNodeRequest feeds arbitrary XEP-0326 requests to the node tree and
// the set-override check: they must never panic.
func FuzzNodeRequest(f *testing.F) {
	for _, s := range []string{
		`<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' parameters='true'/>`,
		`<containsNodes xmlns='urn:xmpp:iot:concentrators'><node sourceId='MQTT' nodeId='a/b/c'/><node/></containsNodes>`,
		`<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' nodeId='/'/>`,
		`<getNodes xmlns='urn:xmpp:iot:concentrators'><node sourceId='MQTT' nodeId=''/></getNodes>`,
		`<set xmlns='urn:xmpp:iot:control'><boolean name='OverrideDuration' value='x'/></set>`,
	} {
		f.Add([]byte(s))
	}
	b, err := mqttbridge.New(config.MQTT{Brokers: []string{"tcp://127.0.0.1:1"}, Mappings: []config.MQTTMapping{{Topic: "plain/{device}/{field}"}}}, mqttbridge.Options{})
	if err != nil {
		f.Fatal(err)
	}
	domain, _ := jid.Parse("mqtt.example.org")
	c, err := New(Options{Session: xmpp.Config{JID: domain, Component: true}, Bridge: b})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := xml.NewDecoder(bytes.NewReader(data))
		for {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if start, ok := tok.(xml.StartElement); ok {
				el, err := xmpp.ReadElement(d, start, xmpp.Limits{})
				if err != nil {
					return
				}
				for _, cmd := range append(nodeCommands, "nope") {
					_ = c.answerNodes(cmd, el, xmpp.NewElement(NSConcentrators, cmd+"Response"))
				}
				_ = hasOverride(el)
				return
			}
		}
	})
}
