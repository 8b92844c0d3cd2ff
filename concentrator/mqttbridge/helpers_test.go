package mqttbridge

import (
	"context"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// deadline bounds every wait of these tests; the waits poll or select, so
// a passing test takes milliseconds, not this long.
const deadline = 15 * time.Second

// bridgeConfig returns a bridge configuration for broker m with quick
// reconnects and a short command timeout.
func bridgeConfig(t *testing.T, m *testserver.Mosquitto, maps ...config.MQTTMapping) config.MQTT {
	return config.MQTT{
		Brokers:        []string{"tcp://" + m.Addr},
		ClientID:       "bridge-" + strings.ReplaceAll(t.Name(), "/", "-"),
		ReconnectMax:   200 * time.Millisecond,
		ConnectTimeout: 2 * time.Second,
		CommandTimeout: 2 * time.Second,
		Mappings:       maps,
	}
}

// startBridge creates and starts a bridge that is closed when the test
// ends.
func startBridge(t *testing.T, cfg config.MQTT) *Bridge {
	t.Helper()
	b, err := New(cfg, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

// testClient connects a paho client (a simulated device or publisher).
// opt may change the options (a will, a custom connection).
func testClient(t *testing.T, m *testserver.Mosquitto, id string, opt func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + m.Addr).SetClientID(id).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond).SetConnectRetry(true).
		SetConnectRetryInterval(100 * time.Millisecond)
	if opt != nil {
		opt(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("test client %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// publish sends one message with QoS 1 and waits for the broker's ack.
func publish(t *testing.T, c mqtt.Client, topic string, retained bool, p any) {
	t.Helper()
	tok := c.Publish(topic, 1, retained, p)
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitField waits until the device has the field with a value equal to
// want and returns it.
func waitField(t *testing.T, b *Bridge, dev, node, name string, want sensors.Value) sensors.Field {
	t.Helper()
	var got sensors.Field
	waitFor(t, dev+" "+node+"/"+name+" = "+want.Format(-1), func() bool {
		d, ok := b.Device(dev)
		if !ok {
			return false
		}
		f, ok := d.Field(node, name)
		got = f
		return ok && f.Value.Equal(want)
	})
	return got
}

// waitAvailable waits for the device's effective availability.
func waitAvailable(t *testing.T, b *Bridge, dev string, want bool) {
	t.Helper()
	waitFor(t, dev+" available="+map[bool]string{true: "true", false: "false"}[want], func() bool {
		d, ok := b.Device(dev)
		return ok && d.Available == want
	})
}

// echoDevice answers every command on cmdFilter by publishing the payload,
// retained, to stateTopic(commandTopic), like a Tasmota plug or a Homie
// device does.
func echoDevice(t *testing.T, c mqtt.Client, cmdFilter string, stateTopic func(string) string) {
	t.Helper()
	tok := c.Subscribe(cmdFilter, 1, func(c mqtt.Client, msg mqtt.Message) {
		c.Publish(stateTopic(msg.Topic()), 1, true, msg.Payload())
	})
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", cmdFilter, tok.Error())
	}
}

// killableConn lets a test drop a client's TCP connection without an MQTT
// DISCONNECT, so the broker publishes its will.
type killableConn struct {
	mu   sync.Mutex
	conn net.Conn
}

// open is a paho OpenConnectionFunc that remembers the connection.
func (k *killableConn) open(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
	c, err := net.Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.conn = c
	k.mu.Unlock()
	return c, nil
}

// kill closes the connection abruptly.
func (k *killableConn) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != nil {
		_ = k.conn.Close()
	}
}
