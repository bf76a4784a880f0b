package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestVersionCommand builds the controller with the version, commit and
// date set by -ldflags, as a release build does, and reads them back from
// both `--version` and `version`.
func TestVersionCommand(t *testing.T) {
	v := testenv.VersionPkg
	bin := testenv.GoBuild(t, ".", "wg-controller",
		"-X "+v+".version=9.8.7 -X "+v+".commit=fedcba9876543210 -X "+v+".date=2026-11-29T12:00:00Z")
	for _, arg := range []string{"--version", "version"} {
		out, err := exec.Command(bin, arg).Output()
		if err != nil {
			t.Fatalf("wg-controller %s: %v", arg, err)
		}
		got := string(out)
		for _, want := range []string{"wg-controller 9.8.7\n", "commit: fedcba9876543210", "date:   2026-11-29T12:00:00Z"} {
			if !strings.Contains(got, want) {
				t.Errorf("wg-controller %s printed %q; it lacks %q", arg, got, want)
			}
		}
	}
	if out, err := exec.Command(bin, "version", "extra").CombinedOutput(); err == nil {
		t.Errorf("wg-controller version extra succeeded: %s", out)
	}
}
