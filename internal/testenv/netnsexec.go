package testenv

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// HelperEnv is the environment variable that marks a test binary started
// by ExecInNetNS: its value is the name of the one test the process runs.
const HelperEnv = "WGFLEET_TEST_HELPER"

// ExecInNetNS runs test, a test function of this test binary, as a process
// inside network namespace ns, the way wireguard-go's tests/netns.sh runs
// its programs: `ip netns exec NS <this binary> -test.run=^TEST$`, with
// HelperEnv=TEST and env ("KEY=value") added to this process's environment.
// Every thread of that process is in ns, so whatever it opens (interfaces,
// sockets), whichever goroutine opens it, is there too.
//
// t fails when the process fails or does not report test as passed, and
// skips when test skipped (a missing prerequisite: with RequireAllEnv set,
// the process fails instead). The process's output goes to t's log. It is
// killed if it outlives t's deadline.
func ExecInNetNS(t *testing.T, ns, test string, env ...string) {
	t.Helper()
	RequireCommand(t, "ip", "iproute2")
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-5*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0], "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append(append(os.Environ(), HelperEnv+"="+test), env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("%s in network namespace %s:\n%s", test, ns, out)
	switch {
	case err != nil:
		t.Fatalf("%s in network namespace %s: %v", test, ns, err)
	case strings.Contains(string(out), "--- SKIP: "+test+" "):
		t.Skipf("%s skipped in network namespace %s (see its output above)", test, ns)
	case !strings.Contains(string(out), "--- PASS: "+test+" "):
		t.Fatalf("%s in network namespace %s did not report passing", test, ns)
	}
}

// HelperOnly skips t unless this process was started by ExecInNetNS to run
// t. Call it first in a test that ExecInNetNS runs.
func HelperOnly(t *testing.T) {
	t.Helper()
	if os.Getenv(HelperEnv) != t.Name() {
		t.Skipf("helper: runs only as a process started by testenv.ExecInNetNS")
	}
}
