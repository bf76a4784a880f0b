package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

const (
	agentUnit    = "../../deploy/systemd/wg-agent.service"
	agentTUNConf = "../../deploy/systemd/wg-agent-tun.conf"
	installedBin = "/usr/local/bin/wg-agent"
)

// TestSystemdUnit runs the agent's unit command line as the unit would:
// as an unprivileged user (nobody, standing in for DynamicUser), with only
// the unit's environment, its secret where LoadCredential= puts it (a
// copy only that user may read, in $CREDENTIALS_DIRECTORY, which %d
// names) and its state directory made for that user. The agent must start,
// answer a signed /health in netstack mode and exit cleanly on SIGTERM.
// systemd-analyze, when installed, checks the unit and its TUN drop-in.
func TestSystemdUnit(t *testing.T) {
	testenv.RequireRoot(t)
	bin := testenv.GoBuild(t, ".", "wg-agent", "")

	t.Run("systemd-analyze verify", func(t *testing.T) {
		testenv.VerifyUnit(t, agentUnit, installedBin, bin)
		testenv.VerifyUnit(t, agentUnit, installedBin, bin, agentTUNConf)
	})

	root := sharedTempDir(t, "wgf-unit-")
	creds, stateRoot, runRoot := filepath.Join(root, "credentials"), filepath.Join(root, "lib"), filepath.Join(root, "run")
	u := testenv.ParseUnit(t, map[byte]string{'d': creds, 'S': stateRoot, 't': runRoot}, agentUnit)
	if u.ExecStart[0] != installedBin {
		t.Fatalf("ExecStart runs %s, want %s", u.ExecStart[0], installedBin)
	}
	if got := u.Keys["LoadCredential"]; len(got) != 1 || got[0] != "secret:/etc/wgfleet/agent.secret" {
		t.Fatalf("LoadCredential = %q", got)
	}
	for key, want := range map[string]string{"DynamicUser": "yes", "StateDirectory": "wg-agent", "NoNewPrivileges": "yes", "ProtectSystem": "strict"} {
		if got := u.Keys[key]; len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if got := u.Keys["CapabilityBoundingSet"]; len(got) != 0 {
		t.Errorf("CapabilityBoundingSet = %q; netstack mode needs no capability", got)
	}

	// What systemd prepares: the credential (0400, owned by the service's
	// user, in a directory only it may enter) and the state directory.
	secret := agenttest.RandomSecret()
	testenv.MkdirNobody(t, creds, filepath.Join(stateRoot, "wg-agent"))
	if err := os.Chmod(stateRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(creds, "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(secretFile, testenv.NobodyID, testenv.NobodyID); err != nil {
		t.Fatal(err)
	}

	// What a drop-in (systemctl edit) would change: loopback ports free
	// for this test.
	apiAddr := testenv.FreeTCPAddr(t)
	env := append(u.Env, "CREDENTIALS_DIRECTORY="+creds, "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"WG_AGENT_LISTEN="+apiAddr, fmt.Sprintf("WG_AGENT_LISTEN_PORT=%d", testenv.FreeUDPPort(t)))
	argv := append([]string{bin}, u.ExecStart[1:]...)
	p := testenv.StartAs(t, testenv.NobodyID, testenv.NobodyID, argv, env)

	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://" + apiAddr, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	var h agentapi.Health
	p.WaitUntil(t, 30*time.Second, "no signed /health", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h, err = c.Health(ctx)
		return err
	})
	if h.Environment == nil || h.Environment.Mode != "netstack" || h.Environment.EUID != testenv.NobodyID {
		t.Errorf("health environment %+v, want netstack as uid %d", h.Environment, testenv.NobodyID)
	}
	key, err := os.Stat(filepath.Join(stateRoot, "wg-agent", "wg0.key"))
	if err != nil {
		t.Fatalf("no private key in the state directory: %v", err)
	}
	if key.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", key.Mode().Perm())
	}
	if err := p.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, p.Logs)
	}
	if strings.Contains(p.Logs.String(), secret) {
		t.Error("the agent logged its secret")
	}
}

// TestImage runs the image's default target (the agent) without Docker:
// its ENTRYPOINT with its ENV as its USER, with what docs/DEPLOYMENT.md
// passes to `docker run` (the secret, an address; ports of this test),
// and runs its HEALTHCHECK command until it passes, as Docker does. After
// SIGTERM the agent exits cleanly and the healthcheck fails.
func TestImage(t *testing.T) {
	testenv.RequireRoot(t)
	stages := testenv.ParseDockerfile(t, "../../Dockerfile")
	st, ok := stages["agent"]
	if !ok {
		t.Fatal("the Dockerfile has no agent stage")
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if froms := strings.Split(string(df), "\nFROM "); !strings.HasSuffix(strings.SplitN(froms[len(froms)-1], "\n", 2)[0], " AS agent") {
		t.Error("the agent is not the Dockerfile's last stage, the image `docker build .` makes")
	}
	if want := []string{installedBin, "healthcheck"}; strings.Join(st.Healthcheck, " ") != strings.Join(want, " ") {
		t.Errorf("HEALTHCHECK CMD %q, want %q", st.Healthcheck, want)
	}
	if !slices.Contains(st.Volumes, st.Getenv("WG_AGENT_STATE_DIR")) {
		t.Errorf("the state directory %q is not a VOLUME (%q)", st.Getenv("WG_AGENT_STATE_DIR"), st.Volumes)
	}
	for _, p := range []string{"8080/tcp", "51820/udp"} {
		if !slices.Contains(st.Expose, p) {
			t.Errorf("EXPOSE lacks %s: %q", p, st.Expose)
		}
	}
	bin := testenv.GoBuild(t, ".", "wg-agent", "")
	secret := agenttest.RandomSecret()
	_, port, _ := net.SplitHostPort(testenv.FreeTCPAddr(t))
	env := []string{"WG_AGENT_SECRET=" + secret, "WG_AGENT_LISTEN=:" + port, fmt.Sprintf("WG_AGENT_LISTEN_PORT=%d", testenv.FreeUDPPort(t))}
	r := testenv.StartImage(t, st, map[string]string{"wg-agent": bin}, env, "--address", "10.8.0.1/24")

	r.WaitHealthy(t, st.Healthcheck, 30*time.Second)
	c, err := agentapi.NewClient(agentapi.ClientConfig{BaseURL: "http://127.0.0.1:" + port, Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if h.Environment == nil || h.Environment.Mode != "netstack" || h.Environment.EUID != int(r.UID) {
		t.Errorf("health environment %+v, want netstack as uid %d", h.Environment, r.UID)
	}
	if err := r.Stop(30 * time.Second); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, r.Logs)
	}
	if out, err := r.Exec(t, st.Healthcheck); err == nil {
		t.Errorf("the HEALTHCHECK passes with the agent stopped: %s", out)
	}
}
