package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// localNodeDir is where serve --local-node keeps the local node's agent
// state (its private key and peers) and localNodeFile, under the data
// directory.
const (
	localNodeDir  = "local-node"
	localNodeFile = "node.json"
)

// localNodeConfig is what serve --local-node runs: an agent in the
// controller's process, registered as one of its nodes.
type localNodeConfig struct {
	name     string         // the node's name when it is registered
	iface    string         // the WireGuard interface
	port     int            // its UDP listen port
	mode     container.Mode // auto: TUN when it may, netstack otherwise
	endpoint string         // HOST or HOST:PORT clients dial; "": guessed
	pool     netip.Prefix   // the node's IPv4 pool on registration; zero: carved
}

// localNodeFlags are serve's flags of the local node; nil config when
// --local-node is off.
type localNodeFlags struct {
	on                        *cli.Flag[bool]
	name, iface, mode, endpot *cli.Flag[string]
	port                      *cli.Flag[int]
	pool                      *cli.Flag[netip.Prefix]
}

func addLocalNodeFlags(s *cli.Set) localNodeFlags {
	return localNodeFlags{
		on:     cli.Bool(s, "local-node", "WG_CONTROLLER_LOCAL_NODE", false, "run a WireGuard node in this process, registered as a node of this controller (single-host mode)"),
		name:   cli.String(s, "local-node-name", "WG_CONTROLLER_LOCAL_NODE_NAME", "local", "the local node's name when it is first registered"),
		iface:  cli.String(s, "local-node-interface", "WG_CONTROLLER_LOCAL_NODE_INTERFACE", agent.DefaultIface, "the local node's WireGuard interface"),
		mode:   cli.String(s, "local-node-mode", "WG_CONTROLLER_LOCAL_NODE_MODE", string(container.ModeAuto), "the local node's data plane: auto (TUN when it may, netstack otherwise), tun or netstack"),
		port:   cli.Int(s, "local-node-port", "WG_CONTROLLER_LOCAL_NODE_PORT", agent.DefaultListenPort, "the local node's WireGuard UDP port"),
		endpot: cli.String(s, "local-node-endpoint", "WG_CONTROLLER_LOCAL_NODE_ENDPOINT", "", "HOST or HOST:PORT clients reach the local node at; default the host of --public-url, else this host's first global address"),
		pool:   cli.Var(s, "local-node-pool", "WG_CONTROLLER_LOCAL_NODE_POOL", netip.Prefix{}, parseSupernet, "the local node's IPv4 pool on first start; default carved from --pool-supernet"),
	}
}

// config is the local node's configuration, nil when --local-node is off.
func (f localNodeFlags) config() *localNodeConfig {
	if !f.on.Get() {
		return nil
	}
	return &localNodeConfig{name: f.name.Get(), iface: f.iface.Get(), port: f.port.Get(), mode: container.Mode(f.mode.Get()),
		endpoint: f.endpot.Get(), pool: f.pool.Get()}
}

// localNodeState is what makes the local node the same node across
// restarts, kept in DATA_DIR/local-node/node.json (mode 0600): its id in
// the controller and the secret its agent and the controller share.
type localNodeState struct {
	NodeID int64  `json:"node_id"` // 0: not registered yet
	Secret string `json:"secret"`
}

// localNode is a running local node.
type localNode struct {
	nodeID int64
	cancel context.CancelFunc
	done   chan error
}

// startLocalNode starts the agent of the local node in this process and
// registers it with c (first start), or points c's node at it (later
// starts: the agent's API port is new). The agent keeps its key and peers
// in DATA_DIR/local-node, so the node and its peers outlive restarts.
func startLocalNode(ctx context.Context, c *controller.Controller, cfg localNodeConfig, ccfg controller.Config, log *slog.Logger) (*localNode, error) {
	dir := filepath.Join(ccfg.DataDir, localNodeDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("local node: %w", err)
	}
	statePath := filepath.Join(dir, localNodeFile)
	st, err := loadLocalNodeState(statePath)
	if err != nil {
		return nil, err
	}
	f := c.Fleet()
	var existing *fleet.NodeView
	if st.NodeID > 0 {
		n, err := f.GetNode(ctx, st.NodeID)
		switch {
		case err == nil:
			existing = &n
		case fault.ErrorCode(err) == fault.ENOTFOUND:
			log.Warn("the local node was deleted; registering it again", "node_id", st.NodeID)
		default:
			return nil, fmt.Errorf("local node: %w", err)
		}
	}
	pool := cfg.pool
	if existing != nil {
		if pool, err = netip.ParsePrefix(existing.IPPool); err != nil {
			return nil, fmt.Errorf("local node: pool of node %d: %w", existing.ID, err)
		}
	} else if !pool.IsValid() {
		if pool, err = carveLocalPool(ctx, f, ccfg); err != nil {
			return nil, err
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("local node: %w", err)
	}
	a, err := agent.New(agent.Config{
		Listen: ln.Addr().String(), Secrets: [][]byte{[]byte(st.Secret)}, Mode: cfg.mode, StateDir: filepath.Join(dir, "agent"),
		Interfaces: []agent.InterfaceConfig{{Name: cfg.iface, ListenPort: cfg.port,
			Addresses: []netip.Prefix{netip.PrefixFrom(ipam.InterfaceAddr(pool), pool.Bits())}}},
		Logger: log.With("component", "local-node"),
	})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("starting the local node: %w", err)
	}
	// The agent outlives ctx until Close: the controller drains its
	// requests to it first.
	actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l := &localNode{cancel: cancel, done: make(chan error, 1)}
	go func() { l.done <- a.Serve(actx, ln) }()

	port := a.Tunnel(cfg.iface).ListenPort()
	var endpoint string
	if host, _, err := net.SplitHostPort(deref(existing).Endpoint); err == nil && cfg.endpoint == "" {
		// A later start: keep the host the node has (an operator may have
		// set it), with the port the interface listens on now.
		endpoint = net.JoinHostPort(host, strconv.Itoa(port))
	} else {
		endpoint = localEndpoint(cfg.endpoint, ccfg.PublicURL, port, log)
	}
	agentURL := "http://" + ln.Addr().String()
	var n fleet.NodeView
	if existing != nil {
		in := fleet.NodeInput{AgentURL: &agentURL}
		if endpoint != existing.Endpoint {
			in.Endpoint = &endpoint
		}
		n, err = f.UpdateNode(ctx, fleet.ActorSystem, existing.ID, in)
	} else {
		poolText := pool.String()
		n, err = f.CreateNode(ctx, fleet.ActorSystem, fleet.NodeInput{Name: &cfg.name, AgentURL: &agentURL, Secret: &st.Secret,
			WGInterface: &cfg.iface, Endpoint: &endpoint, IPPool: &poolText, Enabled: ptr(true)})
	}
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("registering the local node: %w", err)
	}
	l.nodeID = n.ID
	if st.NodeID != n.ID {
		st.NodeID = n.ID
		if err := saveLocalNodeState(statePath, st); err != nil {
			l.Close()
			return nil, err
		}
	}
	log.Info("local node running", "node_id", n.ID, "name", n.Name, "interface", cfg.iface,
		"mode", a.Tunnel(cfg.iface).Mode(), "endpoint", n.Endpoint, "pool", n.IPPool)
	return l, nil
}

// deref is *n, or the zero node for nil.
func deref(n *fleet.NodeView) fleet.NodeView {
	if n == nil {
		return fleet.NodeView{}
	}
	return *n
}

// Close stops the local node's agent and waits for it; it is idempotent.
func (l *localNode) Close() error {
	if l.cancel == nil {
		return nil
	}
	l.cancel()
	l.cancel = nil
	err := <-l.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// carveLocalPool is the first pool of the configured supernet that
// overlaps no node's, as a joining node gets.
func carveLocalPool(ctx context.Context, f *fleet.Service, ccfg controller.Config) (netip.Prefix, error) {
	nodes, err := f.ListNodes(ctx)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("local node: %w", err)
	}
	var taken []netip.Prefix
	for _, n := range nodes {
		if p, err := netip.ParsePrefix(n.IPPool); err == nil {
			taken = append(taken, p)
		}
	}
	supernet, bits := ccfg.PoolSupernet, ccfg.PoolBits
	if !supernet.IsValid() {
		supernet = fleet.DefaultPoolSupernet
	}
	if bits == 0 {
		bits = fleet.DefaultPoolBits
	}
	p, err := ipam.CarvePool4(supernet, bits, taken)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("carving a pool for the local node: %w", err)
	}
	return p, nil
}

// localEndpoint is where clients reach the local node: given is HOST or
// HOST:PORT; without it the host of the public URL when clients can dial
// it (fleet.DialableHost: not loopback), else this host's first global
// unicast address, each with the node's UDP port; 127.0.0.1, with a
// warning, when there is none.
func localEndpoint(given, publicURL string, port int, log *slog.Logger) string {
	if given != "" {
		if _, _, err := net.SplitHostPort(given); err == nil {
			return given
		}
		return net.JoinHostPort(given, strconv.Itoa(port))
	}
	if u, err := url.Parse(publicURL); publicURL != "" && err == nil && fleet.DialableHost(u.Hostname()) {
		return net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	}
	host := "127.0.0.1"
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.IsGlobalUnicast() && ipn.IP.To4() != nil {
				host = ipn.IP.String()
				break
			}
		}
	}
	log.Warn("guessed the local node's endpoint; set --local-node-endpoint to the host clients reach", "endpoint_host", host)
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// loadLocalNodeState reads path, making a new secret on first start.
func loadLocalNodeState(path string) (localNodeState, error) {
	var st localNodeState
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &st); err != nil {
			return st, fmt.Errorf("local node state %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return st, fmt.Errorf("local node state: %w", err)
	}
	if st.Secret == "" {
		st.Secret = randomHex(32)
		if err := saveLocalNodeState(path, st); err != nil {
			return st, err
		}
	}
	return st, nil
}

// saveLocalNodeState writes st to path (mode 0600) through a temporary
// file, so that a crash leaves the old state or the new.
func saveLocalNodeState(path string, st localNodeState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("local node state: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("local node state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("local node state: %w", err)
	}
	return nil
}
