package component

import (
	"bytes"
	"encoding/xml"
	"testing"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/concentrator/mqttbridge"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/sensors/sensordata"
)

// FuzzNodeRequest feeds arbitrary XEP-0326 requests to the node tree,
// and XEP-0323/0325 requests to the concentrator JID's node selection and
// the set-override check: they must never panic.
func FuzzNodeRequest(f *testing.F) {
	for _, s := range []string{
		`<getRootNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' parameters='true'/>`,
		`<containsNodes xmlns='urn:xmpp:iot:concentrators'><node sourceId='MQTT' nodeId='a/b/c'/><node/></containsNodes>`,
		`<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' nodeId='/'/>`,
		`<getNodes xmlns='urn:xmpp:iot:concentrators'><node sourceId='MQTT' nodeId=''/></getNodes>`,
		`<set xmlns='urn:xmpp:iot:control'><boolean name='OverrideDuration' value='x'/></set>`,
		`<getAllNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings'><onlyIfDerivedFrom>xiot.mqtt.Node</onlyIfDerivedFrom></getAllNodes>`,
		`<getAncestors xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings' nodeId='config-1' parameters='true'/>`,
		`<getNodeInheritance xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' nodeId='a'/>`,
		`<createNewNode xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings' nodeId='mappings' type='xiot.mqtt.TopicMapping'><x xmlns='jabber:x:data' type='submit'><field var='id'><value>m1</value></field><field var='topic'><value>t/{device}</value></field></x></createNewNode>`,
		`<setNodeParametersAfterEdit xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings' nodeId='m1'><x xmlns='jabber:x:data' type='submit'><field var='unit'><value>W</value><value>V</value></field></x></setNodeParametersAfterEdit>`,
		`<destroyNode xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings' nodeId='config-1'/>`,
		`<executeNodeCommand xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTMappings' nodeId='m1' command='publishSample'><x xmlns='jabber:x:data' type='submit'/></executeNodeCommand>`,
		`<subscribe xmlns='urn:xmpp:iot:concentrators' sourceId='MQTT' nodeAdded='false' parameters='1'/>`,
		`<executeCommonNodeCommand xmlns='urn:xmpp:iot:concentrators' command='publishSample'><node sourceId='MQTTMappings' nodeId='config-1'/><x xmlns='jabber:x:data' type='submit'><field var='retain'><value>1</value></field></x></executeCommonNodeCommand>`,
		`<setCommonNodeParametersAfterEdit xmlns='urn:xmpp:iot:concentrators'><node sourceId='MQTTMappings' nodeId='config-1'/><node sourceId='MQTTMappings' nodeId='mappings'/><x xmlns='jabber:x:data' type='submit'><field var='type'><value>t</value></field></x></setCommonNodeParametersAfterEdit>`,
		`<createNewNode xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTBrokers' nodeId='brokers' type='xiot.mqtt.Broker'><x xmlns='jabber:x:data' type='submit'><field var='id'><value>b1</value></field><field var='url'><value>tcp://127.0.0.1:1</value></field><field var='homie'><value>1</value></field></x></createNewNode>`,
		`<setNodeParametersAfterEdit xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTBrokers' nodeId='b1'><x xmlns='jabber:x:data' type='submit'><field var='password'><value>p</value></field></x></setNodeParametersAfterEdit>`,
		`<destroyNode xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTBrokers' nodeId='config'/>`,
		`<getChildNodes xmlns='urn:xmpp:iot:concentrators' sourceId='MQTTBrokers' nodeId='brokers' parameters='true'/>`,
		`<req xmlns='urn:xmpp:iot:sensordata' seqnr='1' momentary='true'><node nodeId='a' sourceId='MQTT'/><node nodeId='b' sourceId='X'/></req>`,
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
				owner, _ := jid.Parse("owner@example.org/fuzz")
				for _, cmd := range append(nodeCommands, "nope") {
					_ = c.answerNodes(t.Context(), owner, cmd, el, xmpp.NewElement(NSConcentrators, cmd+"Response"))
				}
				_ = hasOverride(el)
				if req, err := sensordata.ParseRequest(el); err == nil {
					_, _, _ = c.readTargets(req, &rootGrant{devs: map[string]deviceGrant{}})
				}
				_, _ = c.rootSetTargets(el)
				return
			}
		}
	})
}
