// Package version says which build of wgfleet is running: its version,
// the commit it was built from and when that commit was made. Both
// programs print it for --version and the agent reports it in /health.
//
// The values come from the build information the Go toolchain stamps into
// every binary (the main module's version and the vcs.revision, vcs.time
// and vcs.modified settings), unless the build sets them with -ldflags:
//
//	go build -ldflags "-X github.com/wgfleet/wgfleet/internal/version.version=1.2.0 \
//	  -X github.com/wgfleet/wgfleet/internal/version.commit=$(git rev-parse HEAD) \
//	  -X github.com/wgfleet/wgfleet/internal/version.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" ./cmd/wg-agent
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// The -ldflags -X overrides. They are package-level variables because -X
// can set nothing else: the one accepted exception to "no package-level
// mutable state". Nothing in the program assigns them; "" means "not set,
// use the build information".
var (
	version string
	commit  string
	date    string
)

// Unknown is what a field shows when neither -ldflags nor the build
// information tells it.
const Unknown = "unknown"

// Devel is the version of a build that has no version: built from a
// source tree without a release tag or -ldflags.
const Devel = "devel"

// Info is one build's identity.
type Info struct {
	// Version is the release ("1.2.0", without a leading v), the module's
	// pseudo-version for an untagged commit, or Devel.
	Version string
	// Commit is the full commit hash, or Unknown.
	Commit string
	// Date is when the commit was made (RFC 3339, UTC), or Unknown. With
	// -ldflags it is whatever the build said, usually the build time.
	Date string
	// Modified: the source tree had uncommitted changes.
	Modified bool
	// Go is the toolchain version the binary was built with.
	Go string
}

// Get returns the running binary's build identity.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return resolve(bi, version, commit, date)
}

// resolve makes an Info from the build information (nil: none) and the
// -ldflags overrides ("" for each one not set).
func resolve(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	i := Info{Version: Devel, Commit: Unknown, Date: Unknown, Go: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			i.Version = v
		}
		if bi.GoVersion != "" {
			i.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value
			case "vcs.time":
				i.Date = s.Value
			case "vcs.modified":
				i.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		i.Version = ldVersion
	}
	if ldCommit != "" {
		i.Commit = ldCommit
	}
	if ldDate != "" {
		i.Date = ldDate
	}
	// A pseudo-version of a tree with changes ends in +dirty; Modified
	// says so already.
	i.Version = strings.TrimSuffix(strings.TrimPrefix(i.Version, "v"), "+dirty")
	return i
}

// Describe is the --version text of program: its name, version, commit,
// date and Go version, and "modified" for a tree with uncommitted changes.
func (i Info) Describe(program string) string {
	c := i.Commit
	if i.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("%s %s\ncommit: %s\ndate:   %s\ngo:     %s", program, i.Version, c, i.Date, i.Go)
}
