package mqttbridge

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/testserver"
	"github.com/xiot/xiot/sensors"
)

// writeCert writes a self-signed certificate for 127.0.0.1 (its own CA)
// and its key into dir.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestTLSAndCredentials(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	port := freePort(t)
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{
		Users: map[string]string{"bridge": "bridgepass", "publisher": "pubpass"},
		ExtraConfig: fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n",
			port, cert, cert, key),
	})
	pw := filepath.Join(dir, "mqtt-password")
	if err := os.WriteFile(pw, []byte("bridgepass\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"})
	cfg.Brokers = []string{fmt.Sprintf("mqtts://127.0.0.1:%d", port)}
	cfg.CAFile, cfg.Username, cfg.PasswordFile = cert, "bridge", pw
	b := startBridge(t, cfg)

	// A device on the plain listener, with its own password.
	pub := testClient(t, m, "publisher", func(o *mqtt.ClientOptions) { o.SetUsername("publisher").SetPassword("pubpass") })
	publish(t, pub, "plain/tls/ok", true, "true")
	waitField(t, b, "tls", "", "ok", sensors.Boolean(true))
	t.Run("wrong password", func(t *testing.T) {
		bad := cfg
		bad.ClientID = "bad"
		badPW := filepath.Join(dir, "bad-password")
		if err := os.WriteFile(badPW, []byte("nope"), 0o600); err != nil {
			t.Fatal(err)
		}
		bad.PasswordFile = badPW
		nb, err := New(bad, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer nb.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if err := nb.Start(ctx); err == nil || nb.Connected() {
			t.Fatalf("connected with a wrong password (err %v)", err)
		}
	})
	t.Run("unsafe password file", func(t *testing.T) {
		loose := cfg
		loosePW := filepath.Join(dir, "loose-password")
		if err := os.WriteFile(loosePW, []byte("bridgepass"), 0o644); err != nil {
			t.Fatal(err)
		}
		loose.PasswordFile = loosePW
		if _, err := New(loose, Options{}); err == nil {
			t.Fatal("New accepted a password file readable by others")
		}
	})
	t.Run("unknown CA", func(t *testing.T) {
		other := cfg
		other.ClientID = "other"
		other.CAFile, _ = writeCert(t, t.TempDir())
		nb, err := New(other, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		defer nb.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		if err := nb.Start(ctx); err == nil || nb.Connected() {
			t.Fatalf("connected to a broker whose certificate the CA file does not sign (err %v)", err)
		}
	})
}

func TestSecondBroker(t *testing.T) {
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{})
	cfg := bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"})
	// The first URL has nobody listening; paho moves on to the second.
	cfg.Brokers = []string{fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "tcp://" + m.Addr}
	b := startBridge(t, cfg)
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/d/x", false, "1")
	waitField(t, b, "d", "", "x", sensors.Numeric(1))
}

// TestWebsocketBroker bridges through mosquitto's websocket listener
// (ws://), which the bridge dials itself (dialBroker), as it does tcp://
// and mqtts:// above.
func TestWebsocketBroker(t *testing.T) {
	port := freePort(t)
	m := testserver.StartMosquitto(t, testserver.MosquittoOptions{
		ExtraConfig: fmt.Sprintf("listener %d 127.0.0.1\nprotocol websockets\n", port),
	})
	cfg := bridgeConfig(t, m, config.MQTTMapping{Topic: "plain/{device}/{field}"})
	cfg.Brokers = []string{fmt.Sprintf("ws://127.0.0.1:%d", port)}
	b := startBridge(t, cfg)
	pub := testClient(t, m, "publisher", nil)
	publish(t, pub, "plain/ws/x", true, "7")
	waitField(t, b, "ws", "", "x", sensors.Numeric(7))
}
