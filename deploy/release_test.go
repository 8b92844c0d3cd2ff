package deploy

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReleaseArchives runs the release script and checks each archive: its
// files, its checksum, and that its binary reports the stamped version and
// the right platform when run (under qemu-user for ARM).
func TestReleaseArchives(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four release binaries; skipped with -short")
	}
	dist := t.TempDir()
	const version = "v0.0.0-releasetest"
	cmd := exec.Command("bash", "../scripts/release.sh", version, "0123456789abcdef")
	cmd.Env = append(os.Environ(), "DIST="+dist)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release.sh: %v\n%s", err, out)
	}
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	targets := []struct {
		name, qemu, platform string
		small                bool // the small build, without server-side services
	}{
		{"linux-armv6", "qemu-arm-static", "linux/arm", true},
		{"linux-armv7", "qemu-arm-static", "linux/arm", true},
		{"linux-arm64", "qemu-aarch64-static", "linux/arm64", false},
		{"linux-amd64", "", "linux/amd64", false},
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			dir := "xiot-" + version + "-" + tg.name
			archive := filepath.Join(dist, dir+".tar.gz")
			data, err := os.ReadFile(archive)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if !strings.Contains(string(sums), hex.EncodeToString(sum[:])+"  "+dir+".tar.gz") {
				t.Errorf("SHA256SUMS lacks the checksum of %s:\n%s", dir, sums)
			}
			out := t.TempDir()
			files := extract(t, archive, out)
			for _, want := range []string{"xiot", "xiot.yaml.example", "xiot.service", "README.md"} {
				if !files[dir+"/"+want] {
					t.Errorf("%s lacks %s (has %v)", archive, want, files)
				}
			}
			bin := filepath.Join(out, dir, "xiot")
			args := []string{bin, "version"}
			if tg.qemu != "" {
				q, err := exec.LookPath(tg.qemu)
				if err != nil {
					t.Fatalf("%s not found: install qemu-user-static (scripts/install-deps.sh)", tg.qemu)
				}
				args = append([]string{q}, args...)
			}
			got, err := exec.Command(args[0], args[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, got)
			}
			for _, want := range []string{"xiot " + version, "commit:   0123456789ab", "platform: " + tg.platform + "\n"} {
				if !strings.Contains(string(got), want) {
					t.Errorf("xiot version on %s lacks %q:\n%s", tg.name, want, got)
				}
			}
			help, err := exec.Command(args[0], append(args[1:len(args)-1], "help")...).CombinedOutput()
			if err != nil {
				t.Fatalf("xiot help: %v\n%s", err, help)
			}
			if has := strings.Contains(string(help), "  registry "); has == tg.small || !strings.Contains(string(help), "  agent ") {
				t.Errorf("xiot help on %s (small build %v):\n%s", tg.name, tg.small, help)
			}
			if tg.small && len(data) > 0 {
				if st, err := os.Stat(bin); err == nil && st.Size() > 12_000_000 {
					t.Errorf("%s binary is %d bytes, over the 12 MB budget", tg.name, st.Size())
				}
			}
		})
	}
}

// extract unpacks a .tar.gz into dir and returns the names of its regular
// files.
func extract(t *testing.T, archive, dir string) map[string]bool {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg || strings.Contains(h.Name, "..") {
			continue
		}
		files[h.Name] = true
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode)&0o755)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, io.LimitReader(tr, 64<<20)); err != nil {
			t.Fatal(err)
		}
		w.Close()
	}
}

// TestUnitVerifies runs systemd-analyze verify on the unit, with ExecStart
// pointing at a built binary (verify checks that it exists).
func TestUnitVerifies(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: install systemd (scripts/install-deps.sh)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "xiot")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/xiot").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	unit, err := os.ReadFile("xiot.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/xiot agent") {
		t.Fatal("unit does not start /usr/local/bin/xiot agent")
	}
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "StateDirectory=xiot", "User=xiot", "SupplementaryGroups=gpio i2c"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	path := filepath.Join(dir, "xiot.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/xiot", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	// In containers without a running systemd, verify warns about missing
	// targets (sysinit.target); what must not appear are errors about the
	// unit itself.
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.Contains(line, "Unit sysinit.target not found") {
			continue
		}
		t.Errorf("systemd-analyze verify: %s", line)
	}
	if err != nil && !strings.Contains(string(out), "sysinit.target") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
