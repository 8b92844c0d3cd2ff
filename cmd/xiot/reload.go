package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"syscall"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/config"
)

// reloader applies a new configuration on SIGHUP: it loads and checks the
// file again and keeps the running configuration, with a clear error,
// when the new one is not valid. Settings that apply live are the log
// level, the owners and the presence priority; any other change is
// reported as needing a restart, so that a reload never cycles outputs
// through their failsafe states.
type reloader struct {
	load  func() (*config.Config, error)
	cur   *config.Config
	level *slog.LevelVar
	// fixedLevel keeps the level set on the command line (--verbose).
	fixedLevel bool
	agent      *agent.Agent
	log        *slog.Logger
}

// watch reloads on every SIGHUP until ctx is done.
func (r *reloader) watch(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.reload(ctx)
		}
	}
}

// reload loads the configuration again and applies what can change live.
func (r *reloader) reload(ctx context.Context) {
	next, err := r.load()
	if err != nil {
		r.log.Error("configuration reload refused; the running configuration stays", "err", err)
		return
	}
	if lvl := next.Log.SlogLevel(); !r.fixedLevel && lvl != r.level.Level() {
		r.level.Set(lvl)
		r.log.Info("reload: log level", "level", next.Log.Level)
	}
	if !sameJIDs(next.Account.Owners, r.cur.Account.Owners) {
		r.agent.SetOwners(next.Account.Owners)
		r.log.Info("reload: owners", "owners", len(next.Account.Owners))
	}
	if next.Account.Priority != r.cur.Account.Priority {
		if err := r.agent.SetPriority(ctx, next.Account.Priority); err != nil {
			r.log.Error("reload: priority", "err", err)
		} else {
			r.log.Info("reload: presence priority", "priority", next.Account.Priority)
		}
	}
	if hard := restartSections(r.cur, next); len(hard) > 0 {
		r.log.Warn("reload: these settings changed and apply at the next restart (systemctl restart xiot)", "keys", hard)
		// Keep describing the running configuration for those keys.
		return
	}
	r.cur = next
	r.log.Info("configuration reloaded")
}

// restartSections lists the top-level keys (account sub-keys for the
// account) whose values differ and cannot change while running.
func restartSections(cur, next *config.Config) []string {
	var out []string
	a, b := cur.Account, next.Account
	a.Owners, b.Owners, a.Priority, b.Priority = nil, nil, 0, 0
	if !reflect.DeepEqual(a, b) {
		out = append(out, "account")
	}
	if cur.Log.Format != next.Log.Format {
		out = append(out, "log.format")
	}
	cv, nv := reflect.ValueOf(cur).Elem(), reflect.ValueOf(next).Elem()
	t := cv.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() || f.Name == "Account" || f.Name == "Log" {
			continue
		}
		if !reflect.DeepEqual(cv.Field(i).Interface(), nv.Field(i).Interface()) {
			name := f.Tag.Get("yaml")
			if name == "" {
				name = f.Name
			}
			out = append(out, name)
		}
	}
	return out
}

func sameJIDs(a, b []jid.JID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}
