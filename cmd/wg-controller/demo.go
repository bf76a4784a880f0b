package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/api"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// demoNode is one in-process agent of the demo.
type demoNode struct {
	name, pool string
	addr       netip.Prefix
}

// demoNodes are the demo's two nodes.
func demoNodes() []demoNode {
	return []demoNode{
		{"demo-amsterdam", "10.101.0.0/24", netip.MustParsePrefix("10.101.0.1/24")},
		{"demo-tokyo", "10.102.0.0/24", netip.MustParsePrefix("10.102.0.1/24")},
	}
}

// demo runs a controller and two agents in netstack mode on loopback, with
// nothing to configure and no privileges, registers the agents as nodes,
// creates a few peers and prints where to log in. It runs until ctx is done.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	// The demo reads no environment: it must not pick up a real
	// controller's data directory.
	s := cli.NewSet("wg-controller demo", stderr)
	var (
		listen   = cli.String(s, "listen", "", controller.DefaultListen, "HTTP listen address of the UI and API")
		dataDir  = cli.String(s, "data-dir", "", "", "keep the demo's database and agent state here; default a temporary directory removed at exit")
		logLevel = cli.LogLevel(s, "", slog.LevelWarn)
	)
	if err := s.Parse(args, nil); err != nil {
		return err
	}
	log := cli.NewLogger(stderr, cli.LogText, logLevel.Get())
	dir := dataDir.Get()
	if dir == "" {
		tmp, err := os.MkdirTemp("", "wgfleet-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}

	credsPath := filepath.Join(dir, "demo-credentials.json")
	creds, err := loadDemoCredentials(credsPath)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes := demoNodes()
	type running struct {
		url, secret string
		port        int
		done        chan error
	}
	var agents []running
	for _, n := range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		secret := creds.Secrets[n.name]
		a, err := agent.New(agent.Config{
			Listen: ln.Addr().String(), Secrets: [][]byte{[]byte(secret)}, Mode: "netstack",
			StateDir:   filepath.Join(dir, "agent-"+n.name),
			Interfaces: []agent.InterfaceConfig{{Name: "wg0", Addresses: []netip.Prefix{n.addr}}},
			Logger:     log.With("node", n.name), // netstack: no privileges needed
		})
		if err != nil {
			ln.Close()
			return fmt.Errorf("starting demo agent %s: %w", n.name, err)
		}
		r := running{url: "http://" + ln.Addr().String(), secret: secret, port: a.Tunnel("wg0").ListenPort(), done: make(chan error, 1)}
		go func() { r.done <- a.Serve(ctx, ln) }()
		agents = append(agents, r)
	}
	defer func() {
		cancel()
		for _, r := range agents {
			<-r.done
		}
	}()

	password := creds.AdminPassword
	ctrl, err := controller.New(ctx, controller.Config{
		Listen: listen.Get(), DataDir: filepath.Join(dir, "controller"), PollInterval: 5 * time.Second,
		AdminPassword: password, Logger: log, Demo: &api.Demo{Commands: demoCommands(nodes[0].name, nodes[1].name)},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen.Get())
	if err != nil {
		ctrl.Close()
		return fmt.Errorf("listening on %s: %w (choose another with --listen)", listen.Get(), err)
	}
	served := make(chan error, 1)
	go func() { served <- ctrl.Serve(ctx, ln) }()

	f := ctrl.Fleet()
	existing, err := f.ListNodes(ctx)
	if err != nil {
		return err
	}
	have := map[string]int64{}
	for _, n := range existing {
		have[n.Name] = n.ID
	}
	for i, n := range nodes {
		endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(agents[i].port))
		if id, ok := have[n.name]; ok {
			// A kept --data-dir: the agent came back on new ports.
			if _, err := f.UpdateNode(ctx, fleet.ActorSystem, id, fleet.NodeInput{AgentURL: ptr(agents[i].url), Endpoint: ptr(endpoint)}); err != nil {
				return fmt.Errorf("updating %s: %w", n.name, err)
			}
			continue
		}
		nv, err := f.CreateNode(ctx, fleet.ActorSystem, fleet.NodeInput{
			Name: ptr(n.name), AgentURL: ptr(agents[i].url), Secret: ptr(agents[i].secret),
			Endpoint: ptr(endpoint), IPPool: ptr(n.pool), Enabled: ptr(true),
		})
		if err != nil {
			return fmt.Errorf("registering %s: %w", n.name, err)
		}
		for _, peer := range []string{"laptop", "phone"} {
			if _, err := f.CreatePeer(ctx, fleet.ActorSystem, nv.ID, fleet.PeerInput{Name: ptr(peer + "-" + strings.TrimPrefix(n.name, "demo-"))}); err != nil {
				return fmt.Errorf("creating demo peer on %s: %w", n.name, err)
			}
		}
	}

	token, err := demoToken(ctx, ctrl.Auth(), &creds, credsPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, `
wgfleet demo is running (Ctrl-C to stop)

  URL:       http://%s/
  username:  admin
  password:  %s

  two agents in netstack mode: %s, %s
  data:      %s
%s`, ln.Addr(), password, agents[0].url, agents[1].url, dir, demoHints("http://"+ln.Addr().String(), token, nodes[0].name, nodes[1].name))

	select {
	case err := <-served:
		return err
	case <-ctx.Done():
		cancel()
		err := <-served
		if errors.Is(err, context.Canceled) {
			err = nil
		}
		return err
	}
}

func ptr[T any](v T) *T { return &v }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomPassword() string {
	b := make([]byte, 15)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// demoCredentials are the demo's admin password, agent secrets and API
// token, kept in the data directory (mode 0600) so that a demo run again
// with the same --data-dir can still log in and reach its agents.
type demoCredentials struct {
	AdminPassword string            `json:"admin_password"`
	Secrets       map[string]string `json:"agent_secrets"`
	APIToken      string            `json:"api_token,omitempty"` // for the CLI hints; made on first use
}

func loadDemoCredentials(path string) (demoCredentials, error) {
	var c demoCredentials
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &c); err != nil {
			return c, fmt.Errorf("demo credentials %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return c, fmt.Errorf("demo credentials: %w", err)
	}
	changed := false
	if c.AdminPassword == "" {
		c.AdminPassword, changed = randomPassword(), true
	}
	if c.Secrets == nil {
		c.Secrets = map[string]string{}
	}
	for _, n := range demoNodes() {
		if c.Secrets[n.name] == "" {
			c.Secrets[n.name], changed = randomHex(32), true
		}
	}
	if changed {
		if err := saveDemoCredentials(path, c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func saveDemoCredentials(path string, c demoCredentials) error {
	out, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("demo credentials: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		return fmt.Errorf("demo credentials: %w", err)
	}
	return nil
}

// demoToken is the API token the demo's hints give the CLI: the one kept
// in the credentials while the controller still knows it unrevoked and
// unexpired, else a new one, kept.
func demoToken(ctx context.Context, a *auth.Authenticator, c *demoCredentials, path string) (string, error) {
	if c.APIToken != "" {
		toks, err := a.ListTokens(ctx)
		if err != nil {
			return "", err
		}
		for _, t := range toks {
			if t.Prefix != "" && strings.HasPrefix(c.APIToken, t.Prefix) && t.RevokedAt.IsZero() &&
				(t.ExpiresAt.IsZero() || t.ExpiresAt.After(time.Now())) {
				return c.APIToken, nil
			}
		}
	}
	plain, _, err := a.CreateToken(ctx, string(fleet.ActorSystem), "demo-cli", 0)
	if err != nil {
		return "", fmt.Errorf("making the demo's API token: %w", err)
	}
	c.APIToken = plain
	return plain, saveDemoCredentials(path, *c)
}

// demoCommands are the fleet CLI commands (docs/CLI.md) the demo suggests
// trying, in its banner and in the UI; TestDemo runs them.
func demoCommands(node1, node2 string) []string {
	return []string{
		"wg-controller peer add --node " + node1 + " --name my-phone",
		"wg-controller peer qr my-phone",
		"wg-controller peer move my-phone --to " + node2,
		"wg-controller peer list --node " + node2,
	}
}

// demoHints is what the demo's banner suggests trying next, in the UI and
// with the fleet CLI.
func demoHints(url, token, node1, node2 string) string {
	return fmt.Sprintf(`
Try next
  in the UI:   open %[3]s, add a peer and scan its QR code with the WireGuard app;
               then Move it to %[4]s from its row, and watch both nodes apply it
  in a shell:  export WG_CONTROLLER_URL=%[1]s WG_CONTROLLER_TOKEN=%[2]s
               %[5]s
               (from the source tree: go run ./cmd/wg-controller peer list ...)
`, url, token, node1, node2, strings.Join(demoCommands(node1, node2), "\n               "))
}
