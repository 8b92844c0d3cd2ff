// Package version reports what build of xiot is running: the release
// version and VCS commit stamped in at link time, the Go toolchain, the
// target platform and the board families the linked periph host drivers
// support.
//
// Release builds set the variables with the linker:
//
//	go build -ldflags "-X github.com/xiot/xiot/internal/version.Version=v0.1.0 \
//	    -X github.com/xiot/xiot/internal/version.Commit=$(git rev-parse HEAD)" ./cmd/xiot
//
// When Commit is not stamped, the commit recorded by the Go toolchain
// (runtime/debug.ReadBuildInfo, key vcs.revision) is used instead.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release version, set with -ldflags -X at link time.
// It is a variable only so that the linker can set it; nothing else writes it.
var Version = "dev"

// Commit is the VCS revision, set with -ldflags -X at link time; when empty,
// the revision from the Go build info is used.
var Commit = ""

// periphHost is the module path of the periph host drivers.
const periphHost = "periph.io/x/host/v3"

// Info describes one build of xiot.
type Info struct {
	Version   string // release version, "dev" for unstamped builds
	Commit    string // VCS revision, "" when unknown
	Modified  bool   // the work tree had uncommitted changes (from build info only)
	GoVersion string // toolchain that built the binary, e.g. "go1.26.8"
	GOOS      string // target operating system
	GOARCH    string // target architecture
	// PeriphHost is the version of periph.io/x/host/v3 linked into the
	// binary, "" when the host drivers are not linked.
	PeriphHost string
}

// Get returns the Info of the running binary.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		GoVersion: runtime.Version(),
		GOOS:      runtime.GOOS,
		GOARCH:    runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	fromBuildInfo(&info, bi)
	return info
}

// fromBuildInfo fills the fields of info that the linker did not set.
func fromBuildInfo(info *Info, bi *debug.BuildInfo) {
	stamped := info.Commit != ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if !stamped {
				info.Commit = s.Value
			}
		case "vcs.modified":
			if !stamped {
				info.Modified = s.Value == "true"
			}
		}
	}
	for _, dep := range bi.Deps {
		if dep.Path != periphHost {
			continue
		}
		if dep.Replace != nil {
			dep = dep.Replace
		}
		info.PeriphHost = dep.Version
	}
}

// ShortCommit returns the first 12 characters of the commit, with a
// "+dirty" suffix for modified work trees, or "unknown".
func (i Info) ShortCommit() string {
	c := i.Commit
	if c == "" {
		return "unknown"
	}
	if len(c) > 12 {
		c = c[:12]
	}
	if i.Modified {
		c += "+dirty"
	}
	return c
}

// String returns a one-line summary such as
// "xiot v0.1.0 (commit 4a7c057e1f2b, go1.26.8, linux/arm64)".
func (i Info) String() string {
	return fmt.Sprintf("xiot %s (commit %s, %s, %s/%s)", i.Version, i.ShortCommit(), i.GoVersion, i.GOOS, i.GOARCH)
}

// String returns the one-line summary of the running binary.
func String() string {
	return Get().String()
}

// Report returns the multi-line text printed by "xiot version".
func (i Info) Report() string {
	var b strings.Builder
	fmt.Fprintf(&b, "xiot %s\n", i.Version)
	fmt.Fprintf(&b, "commit:   %s\n", i.ShortCommit())
	fmt.Fprintf(&b, "go:       %s\n", i.GoVersion)
	fmt.Fprintf(&b, "platform: %s/%s\n", i.GOOS, i.GOARCH)
	families := BoardSupport(i.GOOS, i.GOARCH)
	switch {
	case i.PeriphHost == "":
		fmt.Fprintf(&b, "boards:   none (%s is not linked into this build)\n", periphHost)
	case len(families) == 0:
		fmt.Fprintf(&b, "boards:   none (%s %s has no drivers for %s/%s)\n", periphHost, i.PeriphHost, i.GOOS, i.GOARCH)
	default:
		fmt.Fprintf(&b, "boards:   %s %s drivers built for %s/%s (detected at run time):\n", periphHost, i.PeriphHost, i.GOOS, i.GOARCH)
		for _, f := range families {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	return b.String()
}
