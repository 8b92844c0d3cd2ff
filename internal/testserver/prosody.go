package testserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ProsodyOptions configures a throwaway Prosody server. The zero value is a
// stock server: STARTTLS-only c2s, a component, no direct-TLS port, no
// offline storage, Prosody's default Nagle setting.
type ProsodyOptions struct {
	// DirectTLS also opens a c2s port with TLS from the first byte
	// (XEP-0368), reported in DirectTLSAddr.
	DirectTLS bool
	// EnableOffline keeps mod_offline loaded. By default it is disabled so
	// that stanzas to absent resources bounce at once.
	EnableOffline bool
	// DisableNagle sets TCP_NODELAY on Prosody's sockets
	// (network_settings.nagle = false). By default Prosody's stock setting,
	// Nagle on, is kept, because that is what users run.
	DisableNagle bool
	// ExtraModules are added to modules_enabled.
	ExtraModules []string
	// ExtraConfig is Lua appended to the global section of the config.
	ExtraConfig string
	// ComponentDomain is the XEP-0114 component's domain; default
	// "iot.localhost".
	ComponentDomain string
	// Debug logs at debug level instead of info.
	Debug bool
	// StartTimeout bounds each start and restart; default 15 s.
	StartTimeout time.Duration
}

// Prosody is a running throwaway Prosody server on 127.0.0.1.
type Prosody struct {
	// Domain is the virtual host served to clients: "localhost".
	Domain string
	// C2SAddr is the client port (STARTTLS, encryption required).
	C2SAddr string
	// DirectTLSAddr is the XEP-0368 direct-TLS client port, or "" when
	// ProsodyOptions.DirectTLS was false.
	DirectTLSAddr string
	// ComponentAddr is the XEP-0114 component port.
	ComponentAddr string
	// ComponentDomain is the component's domain, by default "iot.localhost".
	ComponentDomain string
	// ComponentSecret is the component's random handshake secret.
	ComponentSecret string
	// CAFile is the PEM file of the server's self-signed certificate, to be
	// used as the clients' trust anchor.
	CAFile string
	// Dir is the temporary directory holding config, data, logs and certs.
	Dir string
	// ConfigFile is the generated prosody.cfg.lua.
	ConfigFile string
	// LogFile is Prosody's main log (info level, or debug with
	// ProsodyOptions.Debug); errors also go to prosody.err beside it.
	LogFile string

	certPEM    []byte
	prosodyctl string
	proc       *process
}

// Start creates a temporary directory, generates a configuration and a
// certificate, starts Prosody in the foreground and waits until its ports
// accept connections. The caller must call Close. A missing binary yields an
// error wrapping ErrNotInstalled.
func Start(ctx context.Context, opts ProsodyOptions) (*Prosody, error) {
	bin, err := lookBinary("prosody")
	if err != nil {
		return nil, err
	}
	ctl, err := lookBinary("prosodyctl")
	if err != nil {
		return nil, err
	}
	var p *Prosody
	err = startFresh(ctx, "xiot-prosody-", func(dir string) (*process, error) {
		var err error
		p, err = setupProsody(dir, bin, ctl, opts)
		if err != nil {
			return nil, err
		}
		return p.proc, nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// setupProsody writes certificate and configuration into dir.
func setupProsody(dir, bin, ctl string, opts ProsodyOptions) (*Prosody, error) {
	compDomain := opts.ComponentDomain
	if compDomain == "" {
		compDomain = "iot.localhost"
	}
	const domain = "localhost"
	ports, err := freePorts(3)
	if err != nil {
		return nil, fmt.Errorf("prosody: %w", err)
	}
	secret, err := randomHex(16)
	if err != nil {
		return nil, fmt.Errorf("prosody: component secret: %w", err)
	}
	// prosodyctl indexes <config dir>/certs and complains when it is missing.
	for _, d := range []string{"data", "certs"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("prosody: %w", err)
		}
	}
	certPEM, keyPEM, err := selfSigned([]string{domain, "*." + domain, compDomain}, time.Now())
	if err != nil {
		return nil, fmt.Errorf("prosody: certificate: %w", err)
	}
	cfg := prosodyConfig{
		dir:             dir,
		dataDir:         filepath.Join(dir, "data"),
		certFile:        filepath.Join(dir, "certs", domain+".crt"),
		keyFile:         filepath.Join(dir, "certs", domain+".key"),
		domain:          domain,
		componentDomain: compDomain,
		componentSecret: secret,
		c2sPort:         ports[0],
		componentPort:   ports[1],
		opts:            opts,
	}
	if opts.DirectTLS {
		cfg.directTLSPort = ports[2]
	}
	text, err := cfg.render()
	if err != nil {
		return nil, fmt.Errorf("prosody: config: %w", err)
	}
	configFile := filepath.Join(dir, "prosody.cfg.lua")
	for _, f := range []struct {
		path string
		data []byte
	}{{cfg.certFile, certPEM}, {cfg.keyFile, keyPEM}, {configFile, []byte(text)}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			return nil, fmt.Errorf("prosody: %w", err)
		}
	}
	p := &Prosody{
		Domain:          domain,
		C2SAddr:         loopbackAddr(cfg.c2sPort),
		ComponentAddr:   loopbackAddr(cfg.componentPort),
		ComponentDomain: compDomain,
		ComponentSecret: secret,
		CAFile:          cfg.certFile,
		Dir:             dir,
		ConfigFile:      configFile,
		LogFile:         filepath.Join(dir, "prosody.log"),
		certPEM:         certPEM,
		prosodyctl:      ctl,
	}
	ready := []string{p.C2SAddr, p.ComponentAddr}
	readyLog := []string{activated("c2s", cfg.c2sPort), activated("component", cfg.componentPort)}
	if opts.DirectTLS {
		p.DirectTLSAddr = loopbackAddr(cfg.directTLSPort)
		ready = append(ready, p.DirectTLSAddr)
		readyLog = append(readyLog, activated("c2s_direct_tls", cfg.directTLSPort))
	}
	p.proc = &process{
		name:     "prosody",
		path:     bin,
		args:     []string{"--config", configFile, "-F"},
		dir:      dir,
		pidfile:  filepath.Join(dir, "prosody.pid"),
		logFiles: []string{p.LogFile, filepath.Join(dir, "prosody.err")},
		ready:    ready,
		readyLog: readyLog,
		failLog:  "Failed to open server port",
		timeout:  opts.StartTimeout,
	}
	return p, nil
}

// activated is the line Prosody's portmanager logs once a service listens
// on port; with a port it failed to bind it says "on no ports" instead.
func activated(service string, port int) string {
	return fmt.Sprintf("Activated service '%s' on [127.0.0.1]:%d", service, port)
}

// CertPool returns a pool holding only the server's certificate.
func (p *Prosody) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.certPEM)
	return pool
}

// TLSConfig returns a client TLS configuration that trusts only the server's
// certificate and expects the name Domain.
func (p *Prosody) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: p.CertPool(), ServerName: p.Domain, MinVersion: tls.VersionTLS12}
}

// Register creates the account user@Domain with the given password through
// prosodyctl. It works whether or not the server is running.
func (p *Prosody) Register(user, pass string) error {
	if user == "" || pass == "" || strings.ContainsAny(user, "@/ ") {
		return fmt.Errorf("prosody: register %q: need a bare local part and a password", user)
	}
	cmd := exec.Command(p.prosodyctl, "--config", p.ConfigFile, "register", user, p.Domain, pass)
	cmd.Dir = p.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("prosody: register %s@%s: %w: %s", user, p.Domain, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Kill ends the server with SIGKILL, as a crash would. Restart brings it
// back with the same ports and data.
func (p *Prosody) Kill() error { return p.proc.kill() }

// Pid returns the process ID of the running server, or 0 when it is not
// running (benchmarks use it to give the server a CPU of its own).
func (p *Prosody) Pid() int { return p.proc.pid() }

// Stop ends the server with SIGTERM (SIGKILL after 5 s). The directory is
// kept: Restart brings the server back.
func (p *Prosody) Stop() error { return p.proc.stop() }

// Restart stops the server if it runs, then starts it again with the same
// configuration, ports and data, and waits until it listens.
func (p *Prosody) Restart() error {
	if err := p.proc.stop(); err != nil {
		return err
	}
	return p.proc.start(context.Background())
}

// Running reports whether the server process is alive.
func (p *Prosody) Running() bool { return p.proc.running() }

// LogTail returns the last lines of Prosody's log, error log and stdout.
func (p *Prosody) LogTail() string { return p.proc.logTail() }

// Close stops the server and removes its directory.
func (p *Prosody) Close() error {
	err := p.proc.stop()
	if rmErr := os.RemoveAll(p.Dir); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("prosody: remove %s: %w", p.Dir, rmErr))
	}
	return err
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
