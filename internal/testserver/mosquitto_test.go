package testserver

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// mqttConn is a minimal hand-written MQTT 3.1.1 client (QoS 0 only) used to
// check the broker from the outside.
type mqttConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// mqttConnect connects and returns the CONNACK return code (0: accepted).
func mqttConnect(t *testing.T, addr, user, pass string) (*mqttConn, byte) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &mqttConn{conn: conn, r: bufio.NewReader(conn)}

	flags := byte(0x02) // clean session
	payload := mqttString(fmt.Sprintf("xiot-test-%d", time.Now().UnixNano()))
	if user != "" {
		flags |= 0x80
		payload = append(payload, mqttString(user)...)
	}
	if pass != "" {
		flags |= 0x40
		payload = append(payload, mqttString(pass)...)
	}
	body := append(mqttString("MQTT"), 4, flags, 0, 30) // level 4, keepalive 30 s
	c.send(t, 0x10, append(body, payload...))
	typ, ack := c.read(t)
	if typ != 0x20 || len(ack) != 2 {
		t.Fatalf("want CONNACK, got type %#x body %x", typ, ack)
	}
	return c, ack[1]
}

func (c *mqttConn) publishRetained(t *testing.T, topic, msg string) {
	t.Helper()
	c.send(t, 0x31, append(mqttString(topic), msg...)) // PUBLISH, QoS 0, retain
}

// subscribe subscribes to topic at QoS 0 and waits for the SUBACK.
func (c *mqttConn) subscribe(t *testing.T, topic string) {
	t.Helper()
	c.send(t, 0x82, append([]byte{0, 1}, append(mqttString(topic), 0)...))
	typ, body := c.read(t)
	if typ != 0x90 || len(body) != 3 || body[2] == 0x80 {
		t.Fatalf("want SUBACK granting QoS 0, got type %#x body %x", typ, body)
	}
}

// nextPublish returns the payload of the next PUBLISH.
func (c *mqttConn) nextPublish(t *testing.T) string {
	t.Helper()
	typ, body := c.read(t)
	if typ&0xf0 != 0x30 || len(body) < 2 {
		t.Fatalf("want PUBLISH, got type %#x body %x", typ, body)
	}
	n := int(binary.BigEndian.Uint16(body))
	return string(body[2+n:])
}

func (c *mqttConn) disconnect(t *testing.T) {
	t.Helper()
	c.send(t, 0xe0, nil)
	c.conn.Close()
}

func (c *mqttConn) send(t *testing.T, typ byte, body []byte) {
	t.Helper()
	pkt := []byte{typ}
	n := len(body)
	for {
		b := byte(n % 128)
		n /= 128
		if n > 0 {
			b |= 0x80
		}
		pkt = append(pkt, b)
		if n == 0 {
			break
		}
	}
	if _, err := c.conn.Write(append(pkt, body...)); err != nil {
		t.Fatalf("send packet %#x: %v", typ, err)
	}
}

func (c *mqttConn) read(t *testing.T) (byte, []byte) {
	t.Helper()
	typ, err := c.r.ReadByte()
	if err != nil {
		t.Fatalf("read packet: %v", err)
	}
	n, shift := 0, 0
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			t.Fatalf("read length: %v", err)
		}
		n |= int(b&0x7f) << shift
		if b&0x80 == 0 {
			break
		}
		shift += 7
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		t.Fatalf("read body: %v", err)
	}
	return typ, body
}

func mqttString(s string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(s))), s...)
}

func TestMosquittoAuth(t *testing.T) {
	tests := []struct {
		name       string
		opts       MosquittoOptions
		user, pass string
		accepted   bool
	}{
		{"anonymous broker, anonymous", MosquittoOptions{}, "", "", true},
		{"auth broker, anonymous", MosquittoOptions{Users: map[string]string{"bridge": "pw1", "other": "pw2"}}, "", "", false},
		{"auth broker, right password", MosquittoOptions{Users: map[string]string{"bridge": "pw1", "other": "pw2"}}, "bridge", "pw1", true},
		{"auth broker, second user", MosquittoOptions{Users: map[string]string{"bridge": "pw1", "other": "pw2"}}, "other", "pw2", true},
		{"auth broker, wrong password", MosquittoOptions{Users: map[string]string{"bridge": "pw1", "other": "pw2"}}, "bridge", "pw2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := StartMosquitto(t, tc.opts)
			c, rc := mqttConnect(t, m.Addr, tc.user, tc.pass)
			if got := rc == 0; got != tc.accepted {
				t.Fatalf("CONNACK return code %d, want accepted=%v", rc, tc.accepted)
			}
			if rc == 0 {
				c.disconnect(t)
			}
		})
	}
}

func TestMosquittoPersistenceRestart(t *testing.T) {
	tests := []struct {
		name        string
		persistence bool
		kill        bool
		wantRetain  bool
	}{
		{"persistent, stop", true, false, true},
		{"persistent, kill", true, true, true},
		{"volatile, stop", false, false, false},
		{"volatile, kill", false, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := StartMosquitto(t, MosquittoOptions{Persistence: tc.persistence})
			c, _ := mqttConnect(t, m.Addr, "", "")
			c.publishRetained(t, "xiot/test/state", "on")
			c.disconnect(t)
			// The retained message is readable before the restart.
			c, _ = mqttConnect(t, m.Addr, "", "")
			c.subscribe(t, "xiot/test/#")
			if got := c.nextPublish(t); got != "on" {
				t.Fatalf("retained before restart = %q, want on", got)
			}
			c.disconnect(t)

			addr := m.Addr
			stop := m.Stop
			if tc.kill {
				stop = m.Kill
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			if m.Running() {
				t.Fatal("Running after stop")
			}
			if err := m.Restart(); err != nil {
				t.Fatal(err)
			}
			if m.Addr != addr {
				t.Fatalf("Addr changed from %s to %s", addr, m.Addr)
			}
			c, _ = mqttConnect(t, m.Addr, "", "")
			c.subscribe(t, "xiot/test/#")
			// Retained messages are sent right after the SUBACK, so a marker
			// published now arrives after them and tells "no retained
			// message" from a slow broker.
			p, _ := mqttConnect(t, m.Addr, "", "")
			p.send(t, 0x30, append(mqttString("xiot/test/marker"), "marker"...))
			p.disconnect(t)
			got := c.nextPublish(t)
			if want := map[bool]string{true: "on", false: "marker"}[tc.wantRetain]; got != want {
				t.Errorf("first message after restart = %q, want %q", got, want)
			}
		})
	}
}

func TestMosquittoRestartPortTaken(t *testing.T) {
	m := StartMosquitto(t, MosquittoOptions{StartTimeout: 5 * time.Second})
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", m.Addr)
	if err != nil {
		t.Fatalf("take %s: %v", m.Addr, err)
	}
	defer ln.Close()
	if err := m.Restart(); !errors.Is(err, errPortTaken) {
		t.Fatalf("Restart with the port taken: %v, want errPortTaken", err)
	}
	ln.Close()
	if err := m.Restart(); err != nil {
		t.Fatalf("Restart once the port is free again: %v", err)
	}
	c, rc := mqttConnect(t, m.Addr, "", "")
	if rc != 0 {
		t.Fatalf("CONNACK %d after restart", rc)
	}
	c.disconnect(t)
}
