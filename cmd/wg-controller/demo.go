package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

// demoNode is one in-process agent of the demo.
type demoNode struct {
	name, pool string
	addr       netip.Prefix
}

// demo runs a controller and two agents in netstack mode on loopback, with
// nothing to configure and no privileges, registers the agents as nodes,
// creates a few peers and prints where to log in. It runs until ctx is done.
func demo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wg-controller demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", controller.DefaultListen, "HTTP listen address of the UI and API")
	dataDir := fs.String("data-dir", "", "keep the demo's database and agent state here; default a temporary directory removed at exit")
	logLevel := fs.String("log-level", "warn", "log level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	c := common{logFormat: "text", logLevel: *logLevel}
	log, err := c.logger(stderr)
	if err != nil {
		return err
	}
	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "wgfleet-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes := []demoNode{
		{"demo-amsterdam", "10.101.0.0/24", netip.MustParsePrefix("10.101.0.1/24")},
		{"demo-tokyo", "10.102.0.0/24", netip.MustParsePrefix("10.102.0.1/24")},
	}
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
		secret := randomHex(32)
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

	password := randomPassword()
	ctrl, err := controller.New(ctx, controller.Config{
		Listen: *listen, DataDir: filepath.Join(dir, "controller"), PollInterval: 5 * time.Second,
		AdminPassword: password, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		ctrl.Close()
		return fmt.Errorf("listening on %s: %w (choose another with --listen)", *listen, err)
	}
	served := make(chan error, 1)
	go func() { served <- ctrl.Serve(ctx, ln) }()

	f := ctrl.Fleet()
	existing, err := f.ListNodes(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, n := range existing {
		have[n.Name] = true
	}
	for i, n := range nodes {
		if have[n.name] {
			continue // a kept --data-dir already has it
		}
		endpoint := net.JoinHostPort("127.0.0.1", strconv.Itoa(agents[i].port))
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

	fmt.Fprintf(stdout, `
wgfleet demo is running (Ctrl-C to stop)

  URL:       http://%s/
  username:  admin
  password:  %s

  two agents in netstack mode: %s, %s
  data:      %s
`, ln.Addr(), password, agents[0].url, agents[1].url, dir)

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
