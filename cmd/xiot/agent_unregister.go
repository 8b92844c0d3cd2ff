package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/xiot/xiot/internal/config"
	"github.com/xiot/xiot/provisioning/thing"
)

// Files of the agent in its state directory.
const (
	// agentRegistrationFile keeps the KEY, claim text, owner and tags of
	// the agent's registration in the thing registry.
	agentRegistrationFile = "registration.json"
	// agentCacheFile keeps the provisioning server's decisions.
	agentCacheFile = "provisioning-cache.xml"
)

// unregisterAgent implements xiot agent --unregister: it logs in with
// the device's account (a resource of its own, beside a running agent),
// unregisters the device from the thing registry (XEP-0347 §3.14), and
// deletes its registration state and decision cache.
func unregisterAgent(ctx context.Context, acct *accountFlags, cfg *config.Config, stdout, stderr io.Writer) error {
	reg := cfg.Provisioning.Registry
	if reg.Domainpart() == "" {
		return errors.New("provisioning.registry is not set: the device is registered in no thing registry")
	}
	state := filepath.Join(cfg.StateDir, agentRegistrationFile)
	if _, err := thing.ReadState(state); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the device is not registered: no registration state at %s", state)
	} else if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, acct.timeout)
	defer cancel()
	s, err := acct.connect(cctx, stderr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	st, err := thing.Unregister(cctx, s, reg, "", state)
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(cfg.StateDir, agentCacheFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unregistered, but the decision cache stays: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "unregistered %s from %s (it was %s); its KEY and decision cache are deleted\n"+
		"a running agent with provisioning.registry set registers again, with a new KEY, at its next login: remove provisioning.registry from the configuration\n",
		s.LocalJID().Bare(), reg, registrationWas(st))
	return err
}

// registrationWas says what an unregistered thing was in the registry.
func registrationWas(st thing.State) string {
	switch {
	case st.Removed:
		return "removed by its owner"
	case st.Owner != "":
		return "owned by " + st.Owner
	}
	return "unclaimed"
}
