//go:build !xiot_small

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/xiot/xiot/internal/testserver"
)

// fleet is what the fleet tests (issue 8 end to end) share: a Prosody
// with accounts and their password files, a directory for configurations
// and state, the configuration of `xiot registry` on Prosody's component
// port, and its log.
type fleet struct {
	t      *testing.T
	p      *testserver.Prosody
	dir    string
	pass   map[string]string // user → password file ("<user>-secret")
	regCfg string            // xiot registry's configuration file
	regLog syncBuffer
}

// newFleet starts Prosody with opts and registers users.
func newFleet(t *testing.T, opts testserver.ProsodyOptions, users ...string) *fleet {
	t.Helper()
	f := &fleet{t: t, p: testserver.StartProsody(t, opts), dir: t.TempDir(), pass: map[string]string{}}
	for _, u := range users {
		if err := f.p.Register(u, u+"-secret"); err != nil {
			t.Fatal(err)
		}
		f.pass[u] = f.write(u+".pass", u+"-secret")
	}
	secret := f.write("registry.secret", f.p.ComponentSecret)
	f.regCfg = f.write("registry.yaml", fmt.Sprintf("state_dir: %s\ncomponent:\n  domain: %s\n  server: %s\n  secret_file: %s\n",
		filepath.Join(f.dir, "registry-state"), f.p.ComponentDomain, f.p.ComponentAddr, secret))
	return f
}

// write writes body to name in the fleet's directory (0600) and returns
// its path.
func (f *fleet) write(name, body string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// acct returns the account flags of user.
func (f *fleet) acct(user string) []string {
	return []string{"--jid", user + "@" + f.p.Domain, "--password-file", f.pass[user], "--server", f.p.C2SAddr, "--ca-file", f.p.CAFile}
}

// startRegistry runs `xiot registry` in the process until ctx ends or the
// returned cancel is called; its exit code arrives on the channel.
func (f *fleet) startRegistry(ctx context.Context) (context.CancelFunc, chan int) {
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() { done <- run(rctx, []string{"registry", "--config", f.regCfg}, &f.regLog, &f.regLog) }()
	return rcancel, done
}

// runRegistryT runs `xiot registry --config cfgFile` in the process until
// the test ends, and returns its standard output and error.
func runRegistryT(t *testing.T, cfgFile string) (stdout, stderr *syncBuffer) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runRegistry(ctx, []string{"--config", cfgFile}, stdout, stderr) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Error("registry did not stop")
		}
	})
	return stdout, stderr
}

// waitLog waits up to 40 s for re in buf and returns its submatches; it
// fails the test with buf and the registry's log otherwise.
func (f *fleet) waitLog(buf *syncBuffer, re *regexp.Regexp) []string {
	f.t.Helper()
	for deadline := time.Now().Add(40 * time.Second); ; {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("no %s in the log:\n%s\nregistry:\n%s", re, buf.String(), f.regLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// start runs an xiot command (agent, concentrator …) in the process until
// ctx ends or stop is called; stop waits for it and fails the test unless
// it exited cleanly.
func (f *fleet) start(ctx context.Context, args ...string) (log *syncBuffer, stop func()) {
	log = new(syncBuffer)
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() { done <- run(cctx, args, log, log) }()
	return log, func() {
		cancel()
		if code := <-done; code != exitOK {
			f.t.Errorf("xiot %s exit %d:\n%s", args[0], code, log.String())
		}
	}
}

// things returns what `xiot things` shows the owner.
func (f *fleet) things() string {
	f.t.Helper()
	code, out, errOut := runXiot(f.t, append(append([]string{"things"}, f.acct("owner")...), "--registry", f.p.ComponentDomain)...)
	if code != exitOK {
		f.t.Fatalf("xiot things: exit %d\n%s%s", code, out, errOut)
	}
	return out + errOut
}
