package mqttbridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// TestRuntimeBrokers adds a second broker (a second real mosquitto, with
// credentials and Homie) at run time: its mappings and Homie devices are
// bridged beside the first broker's, commands go out on it, its outage
// touches only its devices, a device id another broker holds is refused,
// and removing it is refused while a mapping uses it.
func TestRuntimeBrokers(t *testing.T) {
	m1 := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	m2 := testserver.StartMosquitto(t, testserver.MosquittoOptions{
		Persistence: true, Users: map[string]string{"site2": "s2pass", "dev": "devpass"},
	})
	b := startBridge(t, bridgeConfig(t, m1, config.MQTTMapping{Topic: "plain/{device}/{field}"}))
	pub1 := testClient(t, m1, "pub1", nil)
	pub2 := testClient(t, m2, "pub2", func(o *mqtt.ClientOptions) { o.SetUsername("dev").SetPassword("devpass") })
	publish(t, pub1, "plain/near/temp", true, "20")
	waitField(t, b, "near", "", "temp", sensors.Numeric(20))
	for _, kv := range [][2]string{
		{"plain/far/temp", "5"},
		{"homie/h1/$homie", "4.0.0"}, {"homie/h1/$state", "ready"},
		{"homie/h1/n/p/$datatype", "float"}, {"homie/h1/n/p", "2.5"},
	} {
		publish(t, pub2, kv[0], true, kv[1])
	}
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()

	site2 := config.MQTTBroker{URL: "tcp://" + m2.Addr, Username: "site2", Password: "s2pass", Homie: true}
	if err := b.AddBroker("site2", site2); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitBroker(ctx, "site2"); err != nil {
		t.Fatal(err)
	}
	// Homie needs no mapping: h1 arrives on the new connection alone.
	waitField(t, b, "h1", "n", "p", sensors.Numeric(2.5))
	if _, ok := b.Device("far"); ok {
		t.Error("far bridged before any mapping on site2 names it")
	}
	err := b.AddMapping(ctx, "far", config.MQTTMapping{Topic: "plain/{device}/{field}", Broker: "site2", CommandTopic: "cmd/{device}/{field}"})
	if err != nil {
		t.Fatal(err)
	}
	waitField(t, b, "far", "", "temp", sensors.Numeric(5))
	if d := mustDevice(t, b, "far"); d.Broker != "site2" || mustDevice(t, b, "near").Broker != MainBrokerID {
		t.Errorf("brokers of far %q, near %q", d.Broker, mustDevice(t, b, "near").Broker)
	}
	brs := b.Brokers()
	if len(brs) != 2 || brs[0].ID != MainBrokerID || !brs[0].Connected || brs[1].ID != "site2" || !brs[1].Connected || brs[1].URLs[0] != site2.URL {
		t.Errorf("brokers %+v", brs)
	}

	t.Run("commands go out on the device's broker", func(t *testing.T) {
		echoDevice(t, pub2, "cmd/+/+", func(topic string) string { return "plain/" + strings.TrimPrefix(topic, "cmd/") })
		if err := b.Publish(ctx, "far", "", "temp", sensors.Numeric(7)); err != nil {
			t.Fatal(err)
		}
		waitField(t, b, "far", "", "temp", sensors.Numeric(7))
	})
	t.Run("a device id of another broker", func(t *testing.T) {
		before := b.Stats().DeviceConflicts
		publish(t, pub2, "plain/near/temp", false, "99")
		waitFor(t, "the conflict to be counted", func() bool { return b.Stats().DeviceConflicts > before })
		if f, _ := mustDevice(t, b, "near").Field("", "temp"); !f.Value.Equal(sensors.Numeric(20)) {
			t.Errorf("near changed by the other broker: %v", f.Value)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		var be *BrokerError
		if err := b.AddBroker("bad", config.MQTTBroker{URL: "http://x", Password: "p"}); !errors.As(err, &be) || be.Problems["url"] == "" || be.Problems["username"] == "" {
			t.Errorf("invalid broker: %v", err)
		}
		for _, id := range []string{"", "config", "a/b", strings.Repeat("x", 65)} {
			if err := b.AddBroker(id, site2); !errors.As(err, &be) || be.Problems["id"] == "" {
				t.Errorf("id %q: %v", id, err)
			}
		}
		if err := b.AddBroker("site2", site2); !errors.Is(err, ErrBrokerExists) {
			t.Errorf("duplicate: %v", err)
		}
		if err := b.RemoveBroker("site2"); !errors.Is(err, ErrBrokerInUse) || !strings.Contains(err.Error(), "far") {
			t.Errorf("removing a broker in use: %v", err)
		}
		if err := b.RemoveBroker(MainBrokerID); !errors.Is(err, ErrUnknownBroker) {
			t.Errorf("removing the configuration's broker: %v", err)
		}
		var me *MappingError
		if err := b.AddMapping(ctx, "x", config.MQTTMapping{Topic: "x/{device}", Broker: "nope"}); !errors.As(err, &me) || me.Problems["broker"] == "" {
			t.Errorf("mapping on an unknown broker: %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		wrong := site2
		wrong.Password = "nope"
		if err := b.AddBroker("wrong", wrong); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if err := b.WaitBroker(short, "wrong"); err == nil {
			t.Error("connected with a wrong password")
		}
		if br, ok := b.Broker("wrong"); !ok || br.Connected {
			t.Errorf("broker wrong: %+v %v", br, ok)
		}
		if err := b.RemoveBroker("wrong"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an outage of one broker", func(t *testing.T) {
		if err := m2.Stop(); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, b, "far", false)
		waitAvailable(t, b, "h1", false)
		if !mustDevice(t, b, "near").Available || !b.Connected() {
			t.Error("the first broker's device went away with the second broker")
		}
		if err := b.Publish(ctx, "far", "", "temp", sensors.Numeric(8)); !errors.Is(err, ErrNotConnected) {
			t.Errorf("set while its broker is away: %v", err)
		}
		if err := m2.Restart(); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, b, "far", true)
		waitAvailable(t, b, "h1", true)
	})
	t.Run("update and remove", func(t *testing.T) {
		moved := site2
		moved.Homie = false
		if err := b.UpdateBroker("site2", moved); err != nil {
			t.Fatal(err)
		}
		if err := b.WaitBroker(ctx, "site2"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "pub2 back", pub2.IsConnectionOpen)
		publish(t, pub2, "plain/far/temp", true, "6")
		waitField(t, b, "far", "", "temp", sensors.Numeric(6))
		if br, _ := b.Broker("site2"); br.Config.Homie {
			t.Errorf("settings after UpdateBroker: %+v", br.Config)
		}
		if err := b.RemoveMapping(ctx, "far"); err != nil {
			t.Fatal(err)
		}
		if err := b.RemoveBroker("site2"); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, b, "far", false)
		if n := len(b.Brokers()); n != 1 {
			t.Errorf("%d brokers after the removal", n)
		}
		if err := b.WaitBroker(ctx, "site2"); !errors.Is(err, ErrUnknownBroker) {
			t.Errorf("WaitBroker of a removed broker: %v", err)
		}
		// Created again (as a broker node destroyed and created anew):
		// it takes its devices back.
		if err := b.AddBroker("site2", site2); err != nil {
			t.Fatal(err)
		}
		if err := b.AddMapping(ctx, "far", config.MQTTMapping{Topic: "plain/{device}/{field}", Broker: "site2"}); err != nil {
			t.Fatal(err)
		}
		waitAvailable(t, b, "far", true)
		waitAvailable(t, b, "h1", true)
	})
}

// TestBrokersBeforeStart adds a broker before Start: it connects at
// Start, which waits only for the configuration's broker.
func TestBrokersBeforeStart(t *testing.T) {
	m1 := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	b, err := New(bridgeConfig(t, m1), Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	// A broker nobody listens on does not hold Start up.
	if err := b.AddBroker("away", config.MQTTBroker{URL: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))}); err != nil {
		t.Fatal(err)
	}
	m2 := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	if err := b.AddBroker("there", config.MQTTBroker{URL: "tcp://" + m2.Addr}); err != nil {
		t.Fatal(err)
	}
	if err := b.AddMapping(t.Context(), "m", config.MQTTMapping{Topic: "t/{device}", Field: "v", Broker: "there"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitBroker(ctx, "there"); err != nil {
		t.Fatal(err)
	}
	publish(t, testClient(t, m2, "pub", nil), "t/d1", true, "3")
	waitField(t, b, "d1", "", "v", sensors.Numeric(3))
	if br, _ := b.Broker("away"); br.Connected {
		t.Error("a broker nobody listens on is connected")
	}
}

// TestBrokerURLsRedacted: a password in a broker URL (paho takes
// credentials from there) is never shown.
func TestBrokerURLsRedacted(t *testing.T) {
	b, err := New(config.MQTT{Brokers: []string{"tcp://u:secret@127.0.0.1:1"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if u := b.Brokers()[0].URLs[0]; strings.Contains(u, "secret") || !strings.Contains(u, "u:xxxxx@127.0.0.1:1") {
		t.Errorf("URL shown as %q", u)
	}
	if err := b.AddBroker("x", config.MQTTBroker{URL: "tcp://u:secret@127.0.0.1:1"}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a password in a broker node's URL: %v", err)
	}
}
