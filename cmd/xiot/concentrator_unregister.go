//go:build !xiot_small

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"time"

	"github.com/xiot/xiot/concentrator/component"
	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/internal/xmpp"
)

// unregisterDevices implements xiot concentrator --unregister ID and
// --unregister-all (id ""): it connects as the component, unregisters
// the devices from the thing registry (XEP-0347 §3.14) and deletes their
// registration state and decision caches.
func unregisterDevices(ctx context.Context, cfg *config.Config, id string, stdout, stderr io.Writer, verbose bool) error {
	reg := cfg.Provisioning.Registry
	if reg.Domainpart() == "" {
		return errors.New("provisioning.registry is not set: the devices are registered in no thing registry")
	}
	// Refused before connecting when there is nothing to unregister.
	cs, err := component.Claims(cfg.StateDir)
	if err != nil && len(cs) == 0 {
		return err
	}
	var jids []string
	if id != "" {
		j := component.DeviceJID(id, cfg.Component.Domain)
		if !slices.ContainsFunc(cs, func(c component.Claim) bool { return c.JID == j }) {
			return fmt.Errorf("device %q (%s) is not registered: no registration state in %s", id, j, filepath.Join(cfg.StateDir, component.RegistrationsDir))
		}
		jids = []string{j}
	} else {
		for _, c := range cs {
			jids = append(jids, c.JID)
		}
		if len(jids) == 0 {
			return fmt.Errorf("no device is registered: no registration state in %s", filepath.Join(cfg.StateDir, component.RegistrationsDir))
		}
	}
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	xc, err := cfg.XMPPComponent(log)
	if err != nil {
		return err
	}
	xc.StreamManagement, xc.Keepalive = false, -1
	s := xmpp.New(xc, &xmpp.Mux{})
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Connect(cctx); err != nil {
		return fmt.Errorf("connecting as the component %s (stop the running concentrator first: the server admits one connection per component): %w", xc.JID, err)
	}
	defer s.Close()
	var errs []error
	for _, j := range jids {
		st, err := component.Unregister(cctx, s, reg, cfg.StateDir, j)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := fmt.Fprintf(stdout, "unregistered %s from %s (it was %s); its KEY and decision cache are deleted\n", j, reg, registrationWas(st)); err != nil {
			return err
		}
	}
	return errors.Join(errs...)
}
