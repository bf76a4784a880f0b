// Package testenv holds the prerequisites checks shared by tests that need
// root, network namespaces or Debian packages. On a developer's machine a
// missing prerequisite skips the test with a message that says what to
// install; with WGFLEET_REQUIRE_ALL=1 (set by .ci/run) it fails instead, so
// nothing is silently skipped in CI.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireAllEnv is the environment variable that turns skips into failures.
const RequireAllEnv = "WGFLEET_REQUIRE_ALL"

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv(RequireAllEnv) != "" {
		t.Fatalf("prerequisite missing (and %s is set): "+format, append([]any{RequireAllEnv}, args...)...)
	}
	t.Skipf("skipping: "+format, args...)
}

// RequireRoot needs euid 0 (network namespaces, TUN devices).
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "needs root")
	}
}

// RequireTUN needs /dev/net/tun to open.
func RequireTUN(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		missing(t, "needs /dev/net/tun: %v", err)
		return
	}
	f.Close()
}

// RequireCommand needs an executable on PATH and returns its path. pkg is
// the Debian package that provides it.
func RequireCommand(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "needs %s (apt-get install %s)", name, pkg)
	}
	return p
}
