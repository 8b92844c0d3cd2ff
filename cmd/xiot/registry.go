//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
	"github.com/xiot/xiot/provisioning/registry"
	"github.com/xiot/xiot/provisioning/registry/boltstore"
	"github.com/xiot/xiot/provisioning/registry/sqlstore"
)

const registryUsage = `Usage: xiot registry --config FILE [flags]

Runs the thing registry (XEP-0347) and provisioning server (XEP-0324) as
a XEP-0114 component of the XMPP server (the component: section: domain,
server, secret_file). Things register their meta tags and a secret KEY;
their owners claim them by presenting the same tags (the claim URI or QR
code the agent prints), and search finds public claimed things. Claimed
things delegate their trust to the registry: the owner is always a
friend, others are allowed or denied by the owner's rules ("xiot rules"),
and questions no rule answers are refused and sent to the owner.

Everything is kept in the registry: section's store and survives
restarts: a SQLite file (default state_dir/registry.db), or a PostgreSQL
database (store: postgres://user@host/db, the password in
store_password_file) that several registry instances may share. The
schema is migrated when the registry starts. A store of an older xiot
(bbolt file) is converted once with --migrate-from-bolt: into the
configured store, which must be empty; when the bbolt file is the store's
own path, it is first renamed FILE.bolt. SIGINT or SIGTERM stops it.

Examples:
  xiot registry --config /etc/xiot/registry.yaml
  xiot registry --config registry.yaml --check-config
  xiot registry --config registry.yaml --migrate-from-bolt /var/lib/xiot/registry.db
`

// runRegistry implements "xiot registry".
func runRegistry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("registry", registryUsage)
	file := fs.String("config", "", "configuration `file` (YAML) with the component: section (required) and registry: section")
	stateDir := fs.String("state-dir", "", "`directory` of the default store (overrides state_dir)")
	verbose := fs.Bool("verbose", false, "log debug events to stderr")
	check := fs.Bool("check-config", false, "check the configuration (file, flags, secret file) and exit")
	fromBolt := fs.String("migrate-from-bolt", "", "copy the things and rules of the bbolt `file` of an older xiot into the store, and exit")
	if err := parseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *file == "" {
		return usagef(fs, "--config is required")
	}
	cfg, err := config.Load(*file)
	if err != nil {
		return err
	}
	if err := cfg.ApplyFlags(config.Overrides{StateDir: *stateDir}); err != nil {
		return err
	}
	if !cfg.Component.Enabled() {
		return fmt.Errorf("%s: the component section is empty: the registry runs as a XEP-0114 component (component.domain, component.server, component.secret_file)", *file)
	}
	if err := cfg.Preflight(); err != nil {
		return err
	}
	target, err := cfg.RegistryStoreURL() // a secret: log cfg.RegistryStore()
	if err != nil {
		return err
	}
	if *check {
		_, err := fmt.Fprintln(stdout, "configuration ok")
		return err
	}

	log := cfg.Log.NewLogger(stderr)
	if *verbose {
		log = config.Log{Level: "debug", Format: cfg.Log.Format}.NewLogger(stderr)
	}
	xc, err := cfg.XMPPComponent(log)
	if err != nil {
		return err
	}
	if *fromBolt != "" {
		return migrateFromBolt(ctx, *fromBolt, cfg.RegistryStore(), target, stdout)
	}
	store, err := sqlstore.Open(ctx, target, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the registry store", "err", err)
		}
	}()
	mux := &xmpp.Mux{}
	sess := xmpp.New(xc, mux)
	r := cfg.Registry
	srv, err := registry.New(sess, registry.Options{
		Store: store, Logger: log, MaxResults: r.MaxResults, ClaimBurst: r.ClaimBurst,
		ClaimEvery: r.ClaimInterval, NotifyTimeout: r.NotifyTimeout,
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	srv.Register(mux)
	xmpp.HandlePing(mux)
	log.Info("xiot registry starting", "domain", xc.JID.String(), "xmpp", xc.Server, "store", sqlstore.Redact(cfg.RegistryStore()), "engine", store.Engine())
	go func() {
		select {
		case <-sess.Online():
			log.Info("XMPP component online", "domain", xc.JID.String())
		case <-ctx.Done():
		}
	}()
	// The reading loop does not watch ctx: closing the session ends Run.
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
			sess.Close()
		case <-stopped:
		}
	}()
	err = sess.Run(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		log.Info("xiot registry stopped")
		return nil
	}
	return fmt.Errorf("registry: XMPP component %s: %w", xc.JID, err)
}

// migrateFromBolt copies the things and rules of the bbolt file from into
// the store at target (shown as name), which must hold no thing. When
// from is the SQLite file itself, it is renamed from.bolt first.
func migrateFromBolt(ctx context.Context, from, name, target string, stdout io.Writer) error {
	if !sqlstore.IsURL(target) && samePath(from, target) {
		moved := from + ".bolt"
		if _, err := os.Stat(moved); err == nil {
			return fmt.Errorf("migrate-from-bolt: %s exists: move it away first", moved)
		}
		if err := os.Rename(from, moved); err != nil {
			return fmt.Errorf("migrate-from-bolt: %w", err)
		}
		fmt.Fprintf(stdout, "renamed %s to %s\n", from, moved)
		from = moved
	}
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("migrate-from-bolt: %w", err)
	}
	old, err := boltstore.Open(from, 0)
	if err != nil {
		return fmt.Errorf("migrate-from-bolt: %w", err)
	}
	defer old.Close()
	store, err := sqlstore.Open(ctx, target, sqlstore.Options{})
	if err != nil {
		return err
	}
	defer store.Close()
	n := 0
	if err := store.Things(ctx, "", func(registry.Thing) bool { n++; return false }); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("migrate-from-bolt: %s already holds things: migrate into an empty store", sqlstore.Redact(name))
	}
	var things []registry.Thing
	if err := old.Things(ctx, "", func(t registry.Thing) bool { things = append(things, t); return true }); err != nil {
		return fmt.Errorf("migrate-from-bolt: %w", err)
	}
	rules := 0
	for batch := range slices.Chunk(things, 1000) {
		if err := store.PutThings(ctx, batch); err != nil {
			return fmt.Errorf("migrate-from-bolt: %w", err)
		}
		for _, t := range batch {
			rs, err := old.Rules(ctx, t.Key)
			if err != nil {
				return fmt.Errorf("migrate-from-bolt: %w", err)
			}
			for _, r := range rs {
				if err := store.PutRule(ctx, r); err != nil {
					return fmt.Errorf("migrate-from-bolt: %w", err)
				}
			}
			rules += len(rs)
		}
	}
	if err := store.Analyze(ctx); err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "migrated %d things and %d rules from %s to %s\n", len(things), rules, from, sqlstore.Redact(name))
	return err
}

// samePath reports whether a and b name the same file.
func samePath(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(fa, fb)
	}
	absA, _ := filepath.Abs(a)
	absB, _ := filepath.Abs(b)
	return absA == absB
}
