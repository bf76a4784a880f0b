package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// VersionPkg is the import path of internal/version, for -ldflags -X.
const VersionPkg = "github.com/wgfleet/wgfleet/internal/version"

// GoBuild builds the main package in dir (relative to the test's working
// directory; "." for the package under test) with the given -ldflags (""
// for none) and returns the binary's path. The binary is in a directory
// every user may enter, so that it can run unprivileged; it is removed
// when the test ends.
func GoBuild(t testing.TB, dir, name, ldflags string) string {
	t.Helper()
	tmp, err := os.MkdirTemp("", "wgfleet-bin-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(tmp, name)
	args := []string{"build", "-o", bin}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	out, err := exec.Command("go", append(args, dir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}
