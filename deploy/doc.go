// Package deploy holds what installs xiot on a board — the systemd unit
// (xiot.service) — and the tests of the release archives that
// scripts/release.sh (make release) builds: every binary runs under
// qemu-user for its architecture, and the unit passes systemd-analyze.
package deploy
