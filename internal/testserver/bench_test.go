package testserver

import (
	"fmt"
	"testing"
)

// BenchmarkProsodyStart measures a cold start: directory, certificate,
// config, process start and the wait until c2s and component ports listen,
// plus Close.
func BenchmarkProsodyStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, err := Start(b.Context(), ProsodyOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProsodyRegister measures one prosodyctl register call.
func BenchmarkProsodyRegister(b *testing.B) {
	p := StartProsody(b, ProsodyOptions{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := p.Register(fmt.Sprintf("user%d", i), "pass"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMosquittoStart measures a cold start and Close of mosquitto.
func BenchmarkMosquittoStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		m, err := StartMosquittoContext(b.Context(), MosquittoOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
