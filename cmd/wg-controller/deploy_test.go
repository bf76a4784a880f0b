package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

const (
	controllerUnit = "../../deploy/systemd/wg-controller.service"
	installedBin   = "/usr/local/bin/wg-controller"
)

// waitHealthz polls GET /healthz at addr until it answers 200, failing
// the test if p exits first or 30 s pass.
func waitHealthz(t *testing.T, p *testenv.Process, addr string) {
	t.Helper()
	p.WaitUntil(t, 30*time.Second, "no /healthz", func() error {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz: %s", resp.Status)
		}
		return nil
	})
}

// TestSystemdUnit runs the controller's unit command line as the unit
// would: as an unprivileged user (nobody, standing in for DynamicUser),
// with only the unit's environment and its state directory made for that
// user. It must start, serve /healthz, keep its database and key in the
// state directory, and exit cleanly on SIGTERM. systemd-analyze, when
// installed, checks the unit.
func TestSystemdUnit(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.GoBuild(t, ".", "wg-controller", "")
	t.Run("systemd-analyze verify", func(t *testing.T) {
		testenv.VerifyUnit(t, controllerUnit, installedBin, bin)
	})

	root, err := os.MkdirTemp("", "wgf-unit-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	stateRoot := filepath.Join(root, "lib")
	u := testenv.ParseUnit(t, map[byte]string{'S': stateRoot}, controllerUnit)
	if u.ExecStart[0] != installedBin {
		t.Fatalf("ExecStart runs %s, want %s", u.ExecStart[0], installedBin)
	}
	for key, want := range map[string]string{"DynamicUser": "yes", "StateDirectory": "wg-controller", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if got := u.Keys[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := u.Keys["CapabilityBoundingSet"]; len(got) != 0 {
		t.Errorf("CapabilityBoundingSet = %q; the controller needs no capability", got)
	}
	state := filepath.Join(stateRoot, "wg-controller")
	testenv.MkdirNobody(t, state)
	if err := os.Chmod(stateRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	// The unit listens on loopback; a drop-in would move the port.
	var listen string
	for _, e := range u.Env {
		if v, ok := strings.CutPrefix(e, "WG_CONTROLLER_LISTEN="); ok {
			listen = v
		}
	}
	if host, _, err := net.SplitHostPort(listen); err != nil || host != "127.0.0.1" {
		t.Errorf("the unit listens on %q; want loopback behind a TLS proxy", listen)
	}
	addr := testenv.FreeTCPAddr(t)
	env := append(u.Env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "WG_CONTROLLER_LISTEN="+addr)
	p := testenv.StartAs(t, testenv.NobodyID, testenv.NobodyID, append([]string{bin}, u.ExecStart[1:]...), env)
	waitHealthz(t, p, addr)
	for _, f := range []string{"wgfleet.db", "master.key"} {
		if _, err := os.Stat(filepath.Join(state, f)); err != nil {
			t.Errorf("%s not in the state directory: %v", f, err)
		}
	}
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.Logs)
	}
}

// TestImage runs the image's controller target without Docker: its
// ENTRYPOINT and CMD with its ENV as its USER. It must listen on every
// address at the EXPOSEd port (where a published port reaches it; the
// test moves the port only), pass its HEALTHCHECK command, as Docker
// runs it, and exit cleanly on SIGTERM, after which the healthcheck fails.
func TestImage(t *testing.T) {
	testenv.RequireRoot(t)
	st, ok := testenv.ParseDockerfile(t, "../../Dockerfile")["controller"]
	if !ok {
		t.Fatal("the Dockerfile has no controller stage")
	}
	if want := []string{installedBin, "healthcheck"}; !slices.Equal(st.Healthcheck, want) {
		t.Errorf("HEALTHCHECK CMD %q, want %q", st.Healthcheck, want)
	}
	if !slices.Contains(st.Volumes, st.Getenv("WG_CONTROLLER_DATA_DIR")) {
		t.Errorf("the data directory %q is not a VOLUME (%q)", st.Getenv("WG_CONTROLLER_DATA_DIR"), st.Volumes)
	}
	host, port, err := net.SplitHostPort(st.Getenv("WG_CONTROLLER_LISTEN"))
	if err != nil || (host != "" && host != "0.0.0.0" && host != "::") {
		t.Fatalf("WG_CONTROLLER_LISTEN=%q in the image: a published port cannot reach it", st.Getenv("WG_CONTROLLER_LISTEN"))
	}
	if !slices.Contains(st.Expose, port+"/tcp") {
		t.Errorf("EXPOSE %q lacks the controller's port %s/tcp", st.Expose, port)
	}
	bin := testenv.GoBuild(t, ".", "wg-controller", "")
	_, free, _ := net.SplitHostPort(testenv.FreeTCPAddr(t))
	r := testenv.StartImage(t, st, map[string]string{"wg-controller": bin},
		[]string{"WG_CONTROLLER_LISTEN=" + net.JoinHostPort(host, free)})
	r.WaitHealthy(t, st.Healthcheck, 30*time.Second)
	// The healthcheck went to loopback; so does a plain GET.
	waitHealthz(t, r.Process, net.JoinHostPort("127.0.0.1", free))
	if err := r.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, r.Logs)
	}
	if out, err := r.Exec(t, st.Healthcheck); err == nil {
		t.Errorf("the HEALTHCHECK passes with the controller stopped: %s", out)
	}
}
