//go:build !xiot_small

package main

import (
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mqttDevice connects a simulated MQTT device to the broker at addr; it is
// disconnected when the test ends.
func mqttDevice(t *testing.T, addr, clientID string, userPass ...string) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID)
	if len(userPass) == 2 {
		o.SetUsername(userPass[0]).SetPassword(userPass[1])
	}
	c := mqtt.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// retain publishes a retained QoS 1 message and waits for the broker.
func retain(t *testing.T, c mqtt.Client, topic, payload string) {
	t.Helper()
	if tok := c.Publish(topic, 1, true, payload); !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
}
