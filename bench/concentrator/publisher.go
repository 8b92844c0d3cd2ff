package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// publisher is one MQTT connection of the simulated devices. It writes
// PUBLISH packets built in advance with paho's packet codec and counts the
// broker's PUBACKs, so that generating the load costs next to no CPU:
// on this benchmark's two cores, a full paho client per connection (a
// goroutine, a token and a channel round trip per message) took CPU from
// the broker, the bridge and Prosody that are being measured.
type publisher struct {
	conn net.Conn
	r    *bufio.Reader
	id   uint16
}

func dialPublisher(addr, clientID string) (*publisher, error) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	p := &publisher{conn: c, r: bufio.NewReader(c)}
	cp := packets.NewControlPacket(packets.Connect).(*packets.ConnectPacket)
	cp.ProtocolName, cp.ProtocolVersion = "MQTT", 4
	cp.CleanSession, cp.ClientIdentifier, cp.Keepalive = true, clientID, 60
	if err := cp.Write(c); err != nil {
		c.Close()
		return nil, err
	}
	ack, err := packets.ReadPacket(p.r)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("MQTT CONNACK: %w", err)
	}
	if ca, ok := ack.(*packets.ConnackPacket); !ok || ca.ReturnCode != 0 {
		c.Close()
		return nil, fmt.Errorf("MQTT connect refused: %v", ack)
	}
	return p, nil
}

// publish sends one QoS 1 retained message per topic, written in large
// writes, and returns once the broker has acknowledged every one.
func (p *publisher) publish(topics []string, payload []byte) error {
	var buf bytes.Buffer
	for _, t := range topics {
		if p.id++; p.id == 0 {
			p.id = 1
		}
		pp := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
		pp.Qos, pp.Retain, pp.TopicName, pp.MessageID, pp.Payload = 1, true, t, p.id, payload
		if err := pp.Write(&buf); err != nil {
			return err
		}
	}
	errc := make(chan error, 1)
	go func() {
		_, err := p.conn.Write(buf.Bytes())
		errc <- err
	}()
	_ = p.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for n := 0; n < len(topics); {
		pk, err := packets.ReadPacket(p.r)
		if err != nil {
			return fmt.Errorf("MQTT PUBACK: %w", err)
		}
		if _, ok := pk.(*packets.PubackPacket); ok {
			n++
		}
	}
	return <-errc
}

func (p *publisher) close() {
	_ = packets.NewControlPacket(packets.Disconnect).Write(p.conn)
	p.conn.Close()
}
