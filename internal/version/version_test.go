package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name       string
		stamped    string
		settings   []debug.BuildSetting
		deps       []*debug.Module
		wantCommit string
		wantDirty  bool
		wantPeriph string
	}{
		{
			name:       "vcs revision used when not stamped",
			settings:   []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}},
			wantCommit: "0123456789abcdef0123",
			wantDirty:  true,
		},
		{
			name:       "linker stamp wins",
			stamped:    "feedface",
			settings:   []debug.BuildSetting{{Key: "vcs.revision", Value: "0123"}, {Key: "vcs.modified", Value: "true"}},
			wantCommit: "feedface",
		},
		{
			name:       "periph host version and replacement",
			deps:       []*debug.Module{{Path: "mellium.im/xmpp", Version: "v0.22.0"}, {Path: periphHost, Version: "v3.8.5", Replace: &debug.Module{Path: "../host", Version: "v3.9.0-local"}}},
			wantPeriph: "v3.9.0-local",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info := Info{Commit: tc.stamped}
			fromBuildInfo(&info, &debug.BuildInfo{Settings: tc.settings, Deps: tc.deps})
			if info.Commit != tc.wantCommit || info.Modified != tc.wantDirty || info.PeriphHost != tc.wantPeriph {
				t.Errorf("got commit %q dirty %v periph %q, want %q %v %q",
					info.Commit, info.Modified, info.PeriphHost, tc.wantCommit, tc.wantDirty, tc.wantPeriph)
			}
		})
	}
}

func TestShortCommit(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{Info{}, "unknown"},
		{Info{Commit: "abc"}, "abc"},
		{Info{Commit: "0123456789abcdef", Modified: true}, "0123456789ab+dirty"},
	}
	for _, tc := range tests {
		if got := tc.info.ShortCommit(); got != tc.want {
			t.Errorf("%+v.ShortCommit() = %q, want %q", tc.info, got, tc.want)
		}
	}
}

func TestBoardSupport(t *testing.T) {
	tests := []struct {
		goos, goarch string
		want         []string // substrings expected, in order
	}{
		{"linux", "arm", []string{"Raspberry Pi", "Allwinner", "BeagleBone", "ODROID", "generic Linux"}},
		{"linux", "arm64", []string{"Raspberry Pi", "Allwinner", "generic Linux"}},
		{"linux", "amd64", []string{"generic Linux"}},
		{"darwin", "arm64", nil},
	}
	for _, tc := range tests {
		got := BoardSupport(tc.goos, tc.goarch)
		if len(got) != len(tc.want) {
			t.Errorf("BoardSupport(%s, %s) = %q, want %d entries", tc.goos, tc.goarch, got, len(tc.want))
			continue
		}
		for i := range got {
			if !strings.Contains(got[i], tc.want[i]) {
				t.Errorf("BoardSupport(%s, %s)[%d] = %q, want it to mention %q", tc.goos, tc.goarch, i, got[i], tc.want[i])
			}
		}
	}
}

func TestReport(t *testing.T) {
	tests := []struct {
		name string
		info Info
		want []string
	}{
		{"arm with periph", Info{Version: "v1.2.3", Commit: "abcdef", GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "arm", PeriphHost: "v3.8.5"},
			[]string{"xiot v1.2.3\n", "commit:   abcdef\n", "platform: linux/arm\n", "periph.io/x/host/v3 v3.8.5", "BeagleBone"}},
		{"without periph", Info{Version: "dev", GOOS: "linux", GOARCH: "amd64"},
			[]string{"commit:   unknown\n", "boards:   none (periph.io/x/host/v3 is not linked"}},
		{"other OS", Info{Version: "dev", GOOS: "windows", GOARCH: "amd64", PeriphHost: "v3.8.5"},
			[]string{"has no drivers for windows/amd64"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.info.Report()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("Report() =\n%s\nmissing %q", got, w)
				}
			}
		})
	}
}

func TestString(t *testing.T) {
	got := Info{Version: "v0.1.0", Commit: "4a7c057", GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "arm64"}.String()
	want := "xiot v0.1.0 (commit 4a7c057, go1.26.8, linux/arm64)"
	if got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if s := String(); !strings.HasPrefix(s, "xiot "+Version+" (commit ") {
		t.Errorf("package String() = %q", s)
	}
}
