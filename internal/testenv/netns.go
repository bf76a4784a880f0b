package testenv

import (
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"
)

// UniqueName returns prefix plus a random hex suffix, at most 15 bytes long
// (the limit of Linux interface names), so that tests running in parallel
// never share a namespace or interface name.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	n := prefix + hex.EncodeToString(b)
	if len(n) > 15 {
		n = n[len(n)-15:]
	}
	return n
}

// Run runs a command for a test and fails the test when it fails.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// NetNS makes a fresh network namespace with its loopback up, removed when
// the test ends (a failure to remove it fails the test). It needs root and
// iproute2.
func NetNS(t testing.TB, prefix string) string {
	t.Helper()
	RequireRoot(t)
	RequireCommand(t, "ip", "iproute2")
	name := UniqueName(prefix)
	Run(t, "ip", "netns", "add", name)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	Run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

// Veth links namespaces a and b with a veth pair and gives each end an
// address in CIDR form (like 192.168.77.1/24). The pair goes with the
// namespaces.
func Veth(t testing.TB, a, addrA, b, addrB string) {
	t.Helper()
	ea, eb := UniqueName("va"), UniqueName("vb")
	Run(t, "ip", "link", "add", ea, "netns", a, "type", "veth", "peer", "name", eb, "netns", b)
	Run(t, "ip", "-n", a, "addr", "add", addrA, "dev", ea)
	Run(t, "ip", "-n", b, "addr", "add", addrB, "dev", eb)
	Run(t, "ip", "-n", a, "link", "set", ea, "up")
	Run(t, "ip", "-n", b, "link", "set", eb, "up")
}
