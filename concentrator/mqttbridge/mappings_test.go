package mqttbridge

import (
	"errors"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// TestRuntimeMappings adds, changes and removes mappings on a live
// connection to a real mosquitto, and checks they survive a broker
// restart.
func TestRuntimeMappings(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{Persistence: true})
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/kitchen/temperature", true, "21.5")
	publish(t, pub, "rt/boiler/temp", true, "61")
	b := startBridge(t, bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"}))
	waitField(t, b, "kitchen", "", "temperature", sensors.Numeric(21.5))
	ctx := t.Context()

	// A new mapping gets the retained state at once.
	if err := b.AddMapping(ctx, "boiler", config.MQTTMapping{Topic: "rt/{device}/temp", Field: "Temperature", Unit: "°C"}); err != nil {
		t.Fatal(err)
	}
	f := waitField(t, b, "boiler", "", "Temperature", sensors.Numeric(61))
	if f.Unit != "°C" {
		t.Errorf("unit %q", f.Unit)
	}
	ms := b.Mappings()
	if len(ms) != 2 || ms[0].ID != "config-1" || ms[0].Runtime || ms[1].ID != "boiler" || !ms[1].Runtime || ms[1].Config.Decoder != config.DecoderPlain {
		t.Errorf("mappings %+v", ms)
	}

	// Refusals.
	var me *MappingError
	if err := b.AddMapping(ctx, "bad", config.MQTTMapping{Topic: "a/#/b", Decoder: "xml"}); !errors.As(err, &me) || me.Problems["topic"] == "" || me.Problems["decoder"] == "" {
		t.Errorf("invalid mapping: %v", err)
	}
	if err := b.AddMapping(ctx, "config-9", config.MQTTMapping{Topic: "x/{device}"}); !errors.As(err, &me) || me.Problems["id"] == "" {
		t.Errorf("reserved id: %v", err)
	}
	if err := b.AddMapping(ctx, "boiler", config.MQTTMapping{Topic: "x/{device}"}); !errors.Is(err, ErrMappingExists) {
		t.Errorf("duplicate id: %v", err)
	}
	if err := b.RemoveMapping(ctx, "config-1"); !errors.Is(err, ErrConfigMapping) {
		t.Errorf("removing a configured mapping: %v", err)
	}
	if err := b.RemoveMapping(ctx, "nope"); !errors.Is(err, ErrUnknownMapping) {
		t.Errorf("removing an unknown mapping: %v", err)
	}

	// Change the unit: new messages use it.
	if err := b.UpdateMapping(ctx, "boiler", config.MQTTMapping{Topic: "rt/{device}/temp", Field: "Temperature", Unit: "K"}); err != nil {
		t.Fatal(err)
	}
	publish(t, pub, "rt/boiler/temp", true, "334")
	if f := waitField(t, b, "boiler", "", "Temperature", sensors.Numeric(334)); f.Unit != "K" {
		t.Errorf("unit after the update %q", f.Unit)
	}

	// Survives a broker restart: the reconnection subscribes again.
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "disconnection", func() bool { return !b.Connected() })
	if err := b.AddMapping(ctx, "while-away", config.MQTTMapping{Topic: "away/{device}", Field: "v"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnection", func() bool { return b.Connected() })
	pub2 := testClient(t, m, "publisher2", nil)
	publish(t, pub2, "rt/boiler/temp", true, "335")
	publish(t, pub2, "away/dev9", true, "7")
	waitField(t, b, "boiler", "", "Temperature", sensors.Numeric(335))
	waitField(t, b, "dev9", "", "v", sensors.Numeric(7))

	// Removed: its topics are not bridged any more.
	if err := b.RemoveMapping(ctx, "boiler"); err != nil {
		t.Fatal(err)
	}
	before := b.Stats().Unmatched
	publish(t, pub2, "rt/boiler/temp", true, "99")
	publish(t, pub2, "plain/kitchen/temperature", true, "22")
	waitField(t, b, "kitchen", "", "temperature", sensors.Numeric(22))
	time.Sleep(50 * time.Millisecond)
	if d := mustDevice(t, b, "boiler"); !d.Fields[0].Value.Equal(sensors.Numeric(335)) {
		t.Errorf("a removed mapping still decodes: %v", d.Fields)
	}
	if s := b.Stats(); s.Unmatched != before {
		t.Errorf("unmatched %d → %d: the broker still sends the removed mapping's topic", before, s.Unmatched)
	}
}
