package tunnel

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestListenUAPI(t *testing.T) {
	t.Run("creates the directory and a 0600 socket", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "run", "wireguard")
		l, err := listenUAPI(dir, "wg0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		fi, err := os.Stat(filepath.Join(dir, "wg0.sock"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want a 0600 socket", fi.Mode())
		}
		di, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if di.Mode().Perm() != 0o755 {
			t.Errorf("directory mode %v, want 0755", di.Mode().Perm())
		}
	})
	t.Run("a live socket is not taken over", func(t *testing.T) {
		dir := t.TempDir()
		l, err := listenUAPI(dir, "wg0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if l2, err := listenUAPI(dir, "wg0"); err == nil {
			l2.Close()
			t.Fatal("a second listener took over a live socket")
		} else if !strings.Contains(err.Error(), "in use") {
			t.Fatalf("error = %v, want one saying the socket is in use", err)
		}
	})
	t.Run("a stale socket is replaced", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "wg0.sock")
		stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		stale.SetUnlinkOnClose(false)
		stale.Close()
		l, err := listenUAPI(dir, "wg0")
		if err != nil {
			t.Fatalf("replacing a stale socket: %v", err)
		}
		l.Close()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("socket file left after Close: %v", err)
		}
	})
}

func TestUAPIServerClose(t *testing.T) {
	testenv.GoroutineLeakCheck(t)
	dir := t.TempDir()
	l, err := listenUAPI(dir, "wg0")
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int32
	// Like device.IpcHandle: answer lines until the client goes away.
	handle := func(c net.Conn) {
		defer c.Close()
		served.Add(1)
		r := bufio.NewReader(c)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			io.WriteString(c, "errno=0\n\n")
		}
	}
	s := serveUAPI(l, handle, testLogger(t))

	// An idle client that never hangs up must not hold Close.
	c, err := net.Dial("unix", filepath.Join(dir, "wg0.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "get=1\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "errno=0\n" {
		t.Fatalf("reply %q, %v", line, err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on an idle client")
	}
	if served.Load() != 1 {
		t.Errorf("served %d clients, want 1", served.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, "wg0.sock")); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}
}
