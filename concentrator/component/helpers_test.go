package component_test

import (
	"net"
	"net/url"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/testserver"
)

func (k *killable) open(uri *url.URL, _ mqtt.ClientOptions) (net.Conn, error) {
	c, err := net.Dial("tcp", uri.Host)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.conn = c
	k.mu.Unlock()
	return c, nil
}

func (k *killable) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.conn != nil {
		_ = k.conn.Close()
	}
}

// mqttClient connects a paho client (a simulated device).
func mqttClient(t *testing.T, m *testserver.Mosquitto, id string, opt func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + m.Addr).SetClientID(id).
		SetAutoReconnect(true).SetMaxReconnectInterval(200 * time.Millisecond)
	if opt != nil {
		opt(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(deadline) || tok.Error() != nil {
		t.Fatalf("MQTT client %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// publish sends a retained message with QoS 1 and waits for the ack.
func publish(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, true, payload)
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
