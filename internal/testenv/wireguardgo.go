package testenv

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// StartWireguardGo runs Debian's wireguard-go (an independent WireGuard
// implementation) in the foreground on a new TUN interface name inside
// namespace ns, waits for the interface, and stops it when the test ends:
// SIGTERM first so that it removes its UAPI socket, then SIGKILL, and the
// socket is removed in any case.
func StartWireguardGo(t testing.TB, ns, name string) {
	t.Helper()
	StartWireguardGoProgram(t, RequireCommand(t, "wireguard-go", "wireguard-go"), ns, name)
}

// StartWireguardGoProgram is StartWireguardGo with the wireguard-go
// program at bin (one built from the module's own wireguard-go, say). It
// returns the program's process id: ip netns exec runs it in its own
// process, without a fork.
func StartWireguardGoProgram(t testing.TB, bin, ns, name string) int {
	t.Helper()
	return StartWireguardGoProgramLog(t, bin, ns, name, nil)
}

// StartWireguardGoProgramLog is StartWireguardGoProgram with the
// program's output (its errors; GODEBUG=gctrace=1 in the environment puts
// its collections there too) written to log; nil discards it.
func StartWireguardGoProgramLog(t testing.TB, bin, ns, name string, log io.Writer) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "-f", name)
	cmd.Env = append(os.Environ(), "LOG_LEVEL=error")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting wireguard-go: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = os.Remove(filepath.Join("/var/run/wireguard", name+".sock"))
	})
	deadline := time.Now().Add(10 * time.Second)
	for exec.Command("ip", "-n", ns, "link", "show", name).Run() != nil {
		select {
		case <-exited:
			t.Fatalf("wireguard-go exited before %s appeared", name)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("wireguard-go: %s did not appear in %s", name, ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd.Process.Pid
}
