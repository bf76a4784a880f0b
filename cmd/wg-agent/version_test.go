package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestVersionFlag builds the agent with the version, commit and date set
// by -ldflags, as a release build does, and reads them back from
// --version.
func TestVersionFlag(t *testing.T) {
	v := testenv.VersionPkg
	bin := testenv.GoBuild(t, ".", "wg-agent",
		"-X "+v+".version=v9.8.7 -X "+v+".commit=0123456789abcdef -X "+v+".date=2026-11-29T12:00:00Z")
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("wg-agent --version: %v", err)
	}
	got := string(out)
	for _, want := range []string{"wg-agent 9.8.7\n", "commit: 0123456789abcdef", "date:   2026-11-29T12:00:00Z", "go:     go"} {
		if !strings.Contains(got, want) {
			t.Errorf("wg-agent --version printed %q; it lacks %q", got, want)
		}
	}
}
