// Package testserver starts throwaway Prosody (XMPP) and mosquitto (MQTT)
// servers on loopback for integration tests and for the demo.
//
// Each server runs from its own temporary directory with a generated
// configuration, on free ports of 127.0.0.1, never on the default ports. The
// XMPP server gets a self-signed certificate generated in Go for "localhost",
// "*.localhost" and its component domain, so clients verify it through
// [Prosody.CertPool] or the PEM file [Prosody.CAFile] instead of disabling
// verification.
//
// Tests use [StartProsody] and [StartMosquitto], which fail the test (never
// skip it) when the server binaries are missing and clean up after the test.
// Programs use [Start] and [StartMosquittoContext] and call Close themselves.
// The binaries come from Debian packages; scripts/install-deps.sh installs
// them.
package testserver
