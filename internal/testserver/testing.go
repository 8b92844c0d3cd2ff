package testserver

import (
	"context"
	"testing"
)

// StartProsody starts a throwaway Prosody for the test and stops it and
// removes its directory when the test ends, logging the end of the server's
// logs if the test failed. It fails the test (it never skips it) when the
// server cannot start, including when Prosody is not installed.
func StartProsody(t testing.TB, opts ProsodyOptions) *Prosody {
	t.Helper()
	p, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("prosody logs (%s):\n%s", p.Dir, p.LogTail())
		}
		if err := p.Close(); err != nil {
			t.Errorf("testserver: %v", err)
		}
	})
	return p
}

// StartMosquitto starts a throwaway mosquitto broker for the test, like
// StartProsody.
func StartMosquitto(t testing.TB, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	m, err := StartMosquittoContext(context.Background(), opts)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mosquitto logs (%s):\n%s", m.Dir, m.LogTail())
		}
		if err := m.Close(); err != nil {
			t.Errorf("testserver: %v", err)
		}
	})
	return m
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago,
// for a server the test starts itself. The port is below the kernel's
// ephemeral range, like the ports of the servers started here, so that
// no outgoing connection takes it first.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ports, err := freePorts(1)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	return loopbackAddr(ports[0])
}
