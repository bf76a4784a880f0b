package testenv

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// WaitUntil calls probe every 200 ms until it returns nil. It fails the
// test if p exits first, or if probe has not passed within d; what says
// what was waited for ("no /healthz") and leads the failure, followed by
// probe's last error and p's logs.
func (p *Process) WaitUntil(t testing.TB, d time.Duration, what string, probe func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if done, err := p.Exited(); done {
			t.Fatalf("%s exited: %v\n%s", filepath.Base(p.Cmd.Path), err, p.Logs)
		}
		err := probe()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s within %v: %v\n%s", what, d, err, p.Logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitHealthy runs the image's HEALTHCHECK command (argv) in the
// container, as Docker does, until it passes; see WaitUntil.
func (r *ImageRun) WaitHealthy(t testing.TB, argv []string, d time.Duration) {
	t.Helper()
	r.WaitUntil(t, d, "the HEALTHCHECK did not pass", func() error {
		if out, err := r.Exec(t, argv); err != nil {
			return fmt.Errorf("%w %s", err, out)
		}
		return nil
	})
}
