package main

import (
	"context"
	"log/slog"
	"os"
	"reflect"
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/xiot/xiot/agent"
	"github.com/xiot/xiot/internal/config"
)

// reloader applies a new configuration on SIGHUP: it loads and checks the
// file again and keeps the running configuration, with a clear error,
// when the new one is not valid. The log level, the owners, the presence
// priority apply live, and the sensors, history and push sections restart
// the sensor services; a change to any other key (account, xmpp,
// provisioning, metrics, board, outputs, …) restarts the agent in the
// process with the new configuration (restart), going back to the running
// one if the new one does not start. Outputs keep their state unless the
// board, the outputs or the state directory changed.
type reloader struct {
	load  func() (*config.Config, error)
	cur   *config.Config
	level *slog.LevelVar
	// fixedLevel keeps the level set on the command line (--verbose).
	fixedLevel bool
	agent      *agent.Agent
	log        *slog.Logger
	// applySensors restarts the sensor services with next's sensors,
	// history and push sections, or returns an error with the running
	// ones restored; nil when there are none.
	applySensors func(cur, next *config.Config) error
	// restart ends the running generation and starts the next one with
	// next; nil leaves other changes for a restart by hand.
	restart func(next *config.Config)
}

// liveSections are the top-level keys a reload applies by restarting the
// sensor services.
var liveSections = []string{"sensors", "history", "push"}

// watch reloads on every SIGHUP until ctx is done.
func (r *reloader) watch(ctx context.Context, hup <-chan os.Signal) {
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
	var restart, sensorsChanged []string
	for _, k := range restartSections(r.cur, next) {
		if slices.Contains(liveSections, k) && r.applySensors != nil {
			sensorsChanged = append(sensorsChanged, k)
		} else {
			restart = append(restart, k)
		}
	}
	if len(restart) > 0 && r.restart != nil {
		if _, err := next.XMPPClient("", r.log); err != nil {
			r.log.Error("configuration reload refused; the running configuration stays", "keys", restart, "err", err)
			return
		}
		r.log.Warn("reload: these settings changed: the agent starts again with the new configuration (session, services; outputs only if board, outputs or state_dir changed)", "keys", restart)
		r.restart(next)
		return
	}
	if len(restart) > 0 {
		r.log.Warn("reload: these settings changed and need a restart (systemctl restart xiot); nothing was applied", "keys", restart)
		return
	}
	if len(sensorsChanged) > 0 {
		if err := r.applySensors(r.cur, next); err != nil {
			r.log.Error("configuration reload refused: the new sensors could not start; the running ones are back", "keys", sensorsChanged, "err", err)
			return
		}
		r.log.Info("reload: sensor services restarted", "keys", sensorsChanged)
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
