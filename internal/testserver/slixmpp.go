package testserver

import (
	"os/exec"
	"testing"
)

// SlixmppPython returns a python3 that can import the slixmpp module
// (for instance "slixmpp.plugins.xep_0323"), the independent XMPP peer of
// the interop tests, or skips the test with the way to install it.
// Debian's python3-slixmpp is importable by /usr/bin/python3, which is
// tried before the python3 on PATH (a pyenv one lacks it).
func SlixmppPython(t testing.TB, module string) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if p, err := exec.LookPath(py); err == nil && exec.Command(p, "-c", "import "+module).Run() == nil {
			return p
		}
	}
	t.Skip("skipping slixmpp interop: no python3 that imports " + module + " (install python3-slixmpp; scripts/install-deps.sh does)")
	return ""
}
