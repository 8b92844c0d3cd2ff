package mqttbridge

import (
	"context"
	"errors"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// powerMapping is a Tasmota-style switch with a command topic.
var powerMapping = config.MQTTMapping{
	Topic: "stat/{device}/POWER", Field: "Power", Type: "boolean",
	CommandTopic: "cmnd/{device}/POWER", PayloadOn: "ON", PayloadOff: "OFF",
}

func TestBrokerRestart(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{Persistence: true})
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/kitchen/temperature", true, "21.5")
	publish(t, pub, "stat/plug1/POWER", true, "OFF")
	echoDevice(t, pub, "cmnd/plug1/POWER", func(string) string { return "stat/plug1/POWER" })

	b := startBridge(t, bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"}, powerMapping))
	events, cancel := b.Subscribe(256)
	defer cancel()
	waitField(t, b, "kitchen", "", "temperature", sensors.Numeric(21.5))
	waitField(t, b, "plug1", "", "Power", sensors.Boolean(false))
	connects := b.Stats().Connects
	for len(events) > 0 {
		<-events // the devices' arrival
	}

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	// While the broker is away every device is unavailable, the values stay,
	// and commands fail at once (queue_size 0).
	waitFor(t, "the bridge to notice the broker is gone", func() bool { return !b.Connected() })
	waitAvailable(t, b, "kitchen", false)
	if _, ok := mustDevice(t, b, "kitchen").Field("", "temperature"); !ok {
		t.Error("the registry lost a value while the broker was away")
	}
	err := b.Publish(t.Context(), "plug1", "", "Power", sensors.Boolean(true))
	if !errors.Is(err, ErrNotConnected) {
		t.Errorf("set while the broker is away: %v, want ErrNotConnected", err)
	}

	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bridge to reconnect", func() bool { return b.Connected() })
	waitAvailable(t, b, "kitchen", true)
	if s := b.Stats(); s.Connects != connects+1 {
		t.Errorf("connects %d, want %d", s.Connects, connects+1)
	}
	// Resubscribed: new values and commands flow again.
	waitFor(t, "the test client to reconnect", pub.IsConnectionOpen)
	publish(t, pub, "plain/kitchen/temperature", true, "22.5")
	waitField(t, b, "kitchen", "", "temperature", sensors.Numeric(22.5))
	// The echo device resubscribes by itself only with a persistent
	// session; subscribe it again to be independent of that.
	echoDevice(t, pub, "cmnd/plug1/POWER", func(string) string { return "stat/plug1/POWER" })
	if err := b.Publish(t.Context(), "plug1", "", "Power", sensors.Boolean(true)); err != nil {
		t.Errorf("set after the restart: %v", err)
	}

	// Subscribers saw kitchen go away and come back.
	var seen []bool
	for len(events) > 0 {
		if e := <-events; e.Kind == EventAvailability && e.Device == "kitchen" {
			seen = append(seen, e.Available)
		}
	}
	if len(seen) != 2 || seen[0] || !seen[1] {
		t.Errorf("kitchen availability events %v, want [false true]", seen)
	}
}

func TestRetainedStateSurvivesRestart(t *testing.T) {
	// A value retained while the bridge is away from a restarted broker is
	// picked up on resubscription.
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{Persistence: true})
	b := startBridge(t, bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"}))
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/a/x", true, "1")
	waitField(t, b, "a", "", "x", sensors.Numeric(1))
	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the publisher to reconnect", pub.IsConnectionOpen)
	publish(t, pub, "plain/b/y", true, "2")
	waitField(t, b, "b", "", "y", sensors.Numeric(2))
	waitField(t, b, "a", "", "x", sensors.Numeric(1))
}

func TestCommandQueue(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{Persistence: true})
	// A device with a persistent session: its subscription and the
	// commands for it survive the broker's restart.
	dev := testClient(t, m, "plug", func(o *mqtt.ClientOptions) { o.SetCleanSession(false) })
	publish(t, dev, "stat/plug1/POWER", true, "OFF")
	echoDevice(t, dev, "cmnd/plug1/POWER", func(string) string { return "stat/plug1/POWER" })
	cfg := bridgeConfig(t, m, powerMapping)
	cfg.QueueSize = 1
	cfg.QueueDeadline = 300 * time.Millisecond
	b := startBridge(t, cfg)
	waitField(t, b, "plug1", "", "Power", sensors.Boolean(false))

	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bridge to notice the broker is gone", func() bool { return !b.Connected() })

	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		err := b.Publish(t.Context(), "plug1", "", "Power", sensors.Boolean(true))
		if !errors.Is(err, ErrQueueDeadline) {
			t.Fatalf("queued set with the broker away: %v, want ErrQueueDeadline", err)
		}
		if el := time.Since(start); el < cfg.QueueDeadline {
			t.Errorf("gave up after %v, before the deadline %v", el, cfg.QueueDeadline)
		}
	})
	t.Run("full", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		first := make(chan error, 1)
		go func() { first <- b.Publish(ctx, "plug1", "", "Power", sensors.Boolean(true)) }()
		waitFor(t, "the first command to queue", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.queued == 1
		})
		if err := b.Publish(t.Context(), "plug1", "", "Power", sensors.Boolean(true)); !errors.Is(err, ErrQueueFull) {
			t.Errorf("second queued set: %v, want ErrQueueFull", err)
		}
		cancel()
		if err := <-first; !errors.Is(err, context.Canceled) || !errors.Is(err, ErrNotConnected) {
			t.Errorf("cancelled queued set: %v, want context.Canceled and ErrNotConnected", err)
		}
	})
	t.Run("sent after reconnect", func(t *testing.T) {
		b.cfg.QueueDeadline = deadline // tests may adjust the bridge's copy
		done := make(chan error, 1)
		go func() { done <- b.Publish(t.Context(), "plug1", "", "Power", sensors.Boolean(true)) }()
		waitFor(t, "the command to queue", func() bool {
			b.mu.Lock()
			defer b.mu.Unlock()
			return b.queued == 1
		})
		if err := m.Restart(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("queued set after reconnect: %v", err)
			}
		case <-time.After(deadline):
			t.Fatal("queued command never finished")
		}
		if f, _ := mustDevice(t, b, "plug1").Field("", "Power"); !f.Value.Equal(sensors.Boolean(true)) {
			t.Errorf("Power after the queued set = %s", f.Text())
		}
	})
}
