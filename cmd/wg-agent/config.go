package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/internal/cli"
	"github.com/wgfleet/wgfleet/tunnel/egress"
	"github.com/wgfleet/wgfleet/tunnel/forward"
	"github.com/wgfleet/wgfleet/wgrules"
)

// options is everything the command line, environment and config file
// say, turned into an agent.Config.
type options struct {
	cfg        agent.Config
	secretFile string
	logFormat  cli.LogFormat
	logLevel   slog.Level
	// showVersion: --version was given; nothing else is set.
	showVersion bool
	// join, when set, is the enrollment run carries out before the agent
	// starts (first start with --join); enrolled is the enrollment found
	// in the state directory (later starts). See applyEnrollment.
	join     *agent.JoinConfig
	enrolled *agent.Enrollment
}

// loadOptions reads flags, then the environment for every flag not given,
// then the --config file for what neither set. It returns a validated
// configuration or an error that says what is wrong.
func loadOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	s := cli.NewSet("wg-agent", stderr)
	var (
		listen     = cli.String(s, "listen", "WG_AGENT_LISTEN", agent.DefaultListen, "API listen address host:port; WG_AGENT_PORT alone sets only the port")
		secretFile = cli.String(s, "secret-file", "WG_AGENT_SECRET_FILE", "", "file holding the shared secret(s), one per line; or set WG_AGENT_SECRET")
		iface      = cli.String(s, "iface", "WG_AGENT_IFACE", agent.DefaultIface, "WireGuard interface name")
		listenPort = cli.Int(s, "listen-port", "WG_AGENT_LISTEN_PORT", agent.DefaultListenPort, "WireGuard UDP port")
		mtu        = cli.Int(s, "mtu", "WG_AGENT_MTU", wgrules.DefaultMTU, "interface MTU")
		mode       = cli.String(s, "mode", "WG_AGENT_MODE", string(agent.DefaultMode), "data plane: auto, tun or netstack")
		stateDir   = cli.String(s, "state-dir", "WG_AGENT_STATE_DIR", agent.DefaultStateDir, "private keys and peer state")
		tlsMode    = cli.Var(s, "tls", "WG_AGENT_TLS", agent.TLSConfig{Mode: agent.TLSOff}, agent.ParseTLS, "serve the API over HTTPS: auto (a self-signed certificate kept in the state dir; the controller pins its fingerprint, logged at start), CERT,KEY (PEM files), or off (plain HTTP)")
		configFile = cli.String(s, "config", "WG_AGENT_CONFIG", "", "JSON config file for several interfaces")
		logging    = cli.LogFlags(s, "WG_AGENT_LOG_FORMAT", "WG_AGENT_LOG_LEVEL")
		window     = cli.Duration(s, "signature-window", "WG_AGENT_SIGNATURE_WINDOW", 300*time.Second, "accepted clock skew of signed requests")
		metrics    = cli.String(s, "metrics-listen", "WG_AGENT_METRICS_LISTEN", "", "serve Prometheus metrics at GET /metrics on this host:port, WITHOUT authentication: bind it to a private address (like 10.0.0.5:9586 or 127.0.0.1:9586); \"\" is off")
		maxConns   = cli.Int(s, "max-connections", "WG_AGENT_MAX_CONNECTIONS", agent.DefaultMaxConnections, "API connections open at once; more wait to be accepted")
		uapiDir    = cli.String(s, "uapi-dir", "WG_AGENT_UAPI_DIR", "", "directory of TUN-mode UAPI sockets; default /var/run/wireguard")
		maxTCP     = cli.Int(s, "max-tcp-conns", "WG_AGENT_MAX_TCP_CONNS", forward.DefaultMaxTCPConns, "netstack mode: TCP connections forwarded at once")
		maxUDP     = cli.Int(s, "max-udp-flows", "WG_AGENT_MAX_UDP_FLOWS", forward.DefaultMaxUDPFlows, "netstack mode: UDP flows forwarded at once")
		tcpIdle    = cli.Duration(s, "tcp-idle-timeout", "WG_AGENT_TCP_IDLE_TIMEOUT", forward.DefaultTCPIdleTimeout, "netstack mode: close a forwarded TCP connection idle this long")
		udpIdle    = cli.Duration(s, "udp-idle-timeout", "WG_AGENT_UDP_IDLE_TIMEOUT", forward.DefaultUDPIdleTimeout, "netstack mode: close a forwarded UDP flow idle this long")
		addresses  = cli.List(s, "address", "WG_AGENT_ADDRESS", parseAddress, "interface address in CIDR form, IPv4 and IPv6")
		allow      = cli.List(s, "egress-allow", "WG_AGENT_EGRESS_ALLOW", egress.ParseRule, "netstack mode: a destination peers may reach, CIDR or CIDR:PORT[-PORT]; when given, nothing else is")
		deny       = cli.List(s, "egress-deny", "WG_AGENT_EGRESS_DENY", egress.ParseRule, "netstack mode: a destination peers may not reach, CIDR or CIDR:PORT[-PORT]; wins over --egress-allow")
		showVer    = cli.Bool(s, "version", "", false, "print the version, commit and build date, and exit")
		joinURL    = cli.String(s, "join", "WG_AGENT_JOIN", "", "first start: join the controller at this URL with --join-token (no secret needed); later starts use the saved enrollment")
		joinToken  = cli.String(s, "join-token", "WG_AGENT_JOIN_TOKEN", "", "the join token (wg-controller enroll-token create, or the UI's Add node)")
		joinCA     = cli.String(s, "join-ca", "WG_AGENT_JOIN_CA", "", "PEM file of the authorities an https controller is verified against (default: the system's, or the certificate the token pins)")
		advertise  = cli.String(s, "advertise-url", "WG_AGENT_ADVERTISE_URL", "", "when joining: how the controller reaches this API; default: this host's address toward the controller and the --listen port")
		endpoint   = cli.String(s, "endpoint", "WG_AGENT_ENDPOINT", "", "when joining: host:port clients dial; default: the advertise URL's host and --listen-port")
	)
	s.SetUsage(usage)
	if err := s.Parse(args, getenv); err != nil {
		return options{}, err
	}
	if showVer.Get() {
		return options{showVersion: true}, nil
	}

	var errs []error
	// WG_AGENT_PORT sets the API's port when neither --listen nor
	// WG_AGENT_LISTEN is given; the config file's listen wins over it.
	portListen := ""
	if port := getenv("WG_AGENT_PORT"); port != "" && !listen.Given() {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("WG_AGENT_PORT=%q is not a port", port))
		} else {
			portListen = net.JoinHostPort("", port)
		}
	}

	var interfaces []agent.InterfaceConfig
	if path := configFile.Get(); path != "" {
		// given is what the interface flags have in common.
		type given interface {
			Name() string
			Given() bool
		}
		for _, f := range []given{iface, addresses, listenPort, mtu, allow, deny, maxTCP, maxUDP, tcpIdle, udpIdle} {
			if f.Given() {
				errs = append(errs, fmt.Errorf("--%s cannot be combined with --config: list interfaces in the file", f.Name()))
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return options{}, fmt.Errorf("reading config file: %w", err)
		}
		fc, err := agent.ParseConfigFile(data)
		if err != nil {
			return options{}, err
		}
		cli.FromFile(listen, fc.Listen)
		cli.FromFile(mode, string(fc.Mode))
		cli.FromFile(stateDir, fc.StateDir)
		cli.FromFile(secretFile, fc.SecretFile)
		cli.FromFile(metrics, fc.MetricsListen)
		cli.FromFile(maxConns, fc.MaxConnections)
		cli.FromFile(tlsMode, fc.TLS)
		interfaces = fc.Interfaces
	} else {
		interfaces = []agent.InterfaceConfig{{
			Name: iface.Get(), Addresses: addresses.Get(), ListenPort: listenPort.Get(), MTU: mtu.Get(),
			EgressAllow: allow.Get(), EgressDeny: deny.Get(),
			MaxTCPConns: maxTCP.Get(), MaxUDPFlows: maxUDP.Get(), TCPIdleTimeout: tcpIdle.Get(), UDPIdleTimeout: udpIdle.Get(),
		}}
	}

	o := options{secretFile: secretFile.Get(), logFormat: logging.Format.Get(), logLevel: logging.Level.Get()}
	o.cfg = agent.Config{
		Listen: listen.Get(), Mode: container.Mode(mode.Get()), StateDir: stateDir.Get(), SignatureWindow: window.Get(),
		UAPIDir: uapiDir.Get(), MetricsListen: metrics.Get(), MaxConnections: maxConns.Get(), Interfaces: interfaces,
		TLS: tlsMode.Get(),
	}
	if listen.Source() == cli.SourceDefault && portListen != "" {
		o.cfg.Listen = portListen
	}
	secrets, err := loadSecrets(o.secretFile, getenv("WG_AGENT_SECRET"))
	if err != nil {
		errs = append(errs, err)
	}
	o.cfg.Secrets = secrets
	if err := errors.Join(errs...); err != nil {
		return options{}, err
	}
	err = applyEnrollment(&o, joinFlags{
		url: joinURL.Get(), token: joinToken.Get(), caFile: joinCA.Get(), advertise: advertise.Get(), endpoint: endpoint.Get(),
		tlsGiven: tlsMode.Source() != cli.SourceDefault, single: configFile.Get() == "",
	})
	if err != nil {
		return options{}, err
	}
	if o.join != nil {
		return o, validateJoining(o.cfg)
	}
	if err := o.cfg.Validate(); err != nil {
		return options{}, err
	}
	return o, nil
}

// parseAddress reads one --address.
func parseAddress(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a CIDR (like 10.8.0.1/24)", s)
	}
	return p, nil
}

// loadSecrets reads the accepted secrets: every non-empty, non-comment line
// of the secret file (several lines allow rotation), else WG_AGENT_SECRET.
// A secret file with any permission for group or others is refused.
func loadSecrets(file, envSecret string) ([][]byte, error) {
	if file == "" {
		if envSecret == "" {
			return nil, nil
		}
		return [][]byte{[]byte(envSecret)}, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading secret file: %w", err)
	}
	// Refused like the interface's private key file: whoever reads the
	// secret can sign any request.
	if st, err := os.Stat(file); err != nil {
		return nil, fmt.Errorf("reading secret file: %w", err)
	} else if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret file %s has mode %v; it must not be readable or writable by group or others: run chmod 600 %s", file, perm, file)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		out = append(out, bytes.Clone(line))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("secret file %s holds no secret", file)
	}
	return out, nil
}
