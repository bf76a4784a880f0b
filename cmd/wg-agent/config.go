package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/tunnel/egress"
	"github.com/wgfleet/wgfleet/tunnel/forward"
)

// options is everything the command line and environment say, before it is
// turned into an agent.Config.
type options struct {
	cfg        agent.Config
	secretFile string
	logFormat  string
	logLevel   slog.Level
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// loadOptions reads flags, then the environment for every flag not given,
// then the --config file for what neither set. It returns a validated
// configuration or an error that says what is wrong.
func loadOptions(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	fs := flag.NewFlagSet("wg-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		listen     = fs.String("listen", agent.DefaultListen, "API listen address host:port (env WG_AGENT_LISTEN; WG_AGENT_PORT sets only the port)")
		secretFile = fs.String("secret-file", "", "file holding the shared secret(s), one per line (env WG_AGENT_SECRET_FILE); or set WG_AGENT_SECRET")
		ifaceName  = fs.String("iface", agent.DefaultIface, "WireGuard interface name (env WG_AGENT_IFACE)")
		listenPort = fs.Int("listen-port", agent.DefaultListenPort, "WireGuard UDP port (env WG_AGENT_LISTEN_PORT)")
		mtu        = fs.Int("mtu", agent.DefaultMTU, "interface MTU (env WG_AGENT_MTU)")
		mode       = fs.String("mode", agent.DefaultMode, "data plane: auto, tun or netstack (env WG_AGENT_MODE)")
		stateDir   = fs.String("state-dir", agent.DefaultStateDir, "private keys and peer state (env WG_AGENT_STATE_DIR)")
		configFile = fs.String("config", "", "JSON config file for several interfaces (env WG_AGENT_CONFIG)")
		logFormat  = fs.String("log-format", "text", "log format: text or json (env WG_AGENT_LOG_FORMAT)")
		logLevel   = fs.String("log-level", "info", "log level: debug, info, warn, error (env WG_AGENT_LOG_LEVEL)")
		window     = fs.Duration("signature-window", 300*time.Second, "accepted clock skew of signed requests (env WG_AGENT_SIGNATURE_WINDOW)")
		metrics    = fs.String("metrics-listen", "", "serve Prometheus metrics at GET /metrics on this host:port, WITHOUT authentication: bind it to a private address (like 10.0.0.5:9586 or 127.0.0.1:9586); \"\" is off (env WG_AGENT_METRICS_LISTEN)")
		uapiDir    = fs.String("uapi-dir", "", "directory of TUN-mode UAPI sockets; default /var/run/wireguard (env WG_AGENT_UAPI_DIR)")
		maxTCP     = fs.Int("max-tcp-conns", forward.DefaultMaxTCPConns, "netstack mode: TCP connections forwarded at once (env WG_AGENT_MAX_TCP_CONNS)")
		maxUDP     = fs.Int("max-udp-flows", forward.DefaultMaxUDPFlows, "netstack mode: UDP flows forwarded at once (env WG_AGENT_MAX_UDP_FLOWS)")
		tcpIdle    = fs.Duration("tcp-idle-timeout", forward.DefaultTCPIdleTimeout, "netstack mode: close a forwarded TCP connection idle this long (env WG_AGENT_TCP_IDLE_TIMEOUT)")
		udpIdle    = fs.Duration("udp-idle-timeout", forward.DefaultUDPIdleTimeout, "netstack mode: close a forwarded UDP flow idle this long (env WG_AGENT_UDP_IDLE_TIMEOUT)")
		addresses  multiFlag
		allow      multiFlag
		deny       multiFlag
	)
	fs.Var(&addresses, "address", "interface address in CIDR form, repeatable, IPv4 and IPv6 (env WG_AGENT_ADDRESS, comma-separated)")
	fs.Var(&allow, "egress-allow", "netstack mode: a destination peers may reach, CIDR or CIDR:PORT[-PORT], repeatable; when given, nothing else is (env WG_AGENT_EGRESS_ALLOW, comma-separated)")
	fs.Var(&deny, "egress-deny", "netstack mode: a destination peers may not reach, CIDR or CIDR:PORT[-PORT], repeatable; wins over --egress-allow (env WG_AGENT_EGRESS_DENY, comma-separated)")
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// env fills a flag that was not given on the command line.
	var errs []error
	env := func(name, key string, apply func(string) error) {
		if set[name] {
			return
		}
		if v := getenv(key); v != "" {
			if err := apply(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", key, v, err))
				return
			}
			set[name] = true
		}
	}
	str := func(p *string) func(string) error { return func(v string) error { *p = v; return nil } }
	num := func(p *int) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("not a number")
			}
			*p = n
			return nil
		}
	}
	env("listen", "WG_AGENT_LISTEN", str(listen))
	if !set["listen"] {
		if port := getenv("WG_AGENT_PORT"); port != "" {
			if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				errs = append(errs, fmt.Errorf("WG_AGENT_PORT=%q is not a port", port))
			} else {
				*listen = net.JoinHostPort("", port)
			}
		}
	}
	env("secret-file", "WG_AGENT_SECRET_FILE", str(secretFile))
	env("iface", "WG_AGENT_IFACE", str(ifaceName))
	env("listen-port", "WG_AGENT_LISTEN_PORT", num(listenPort))
	env("mtu", "WG_AGENT_MTU", num(mtu))
	env("mode", "WG_AGENT_MODE", str(mode))
	env("state-dir", "WG_AGENT_STATE_DIR", str(stateDir))
	env("config", "WG_AGENT_CONFIG", str(configFile))
	env("log-format", "WG_AGENT_LOG_FORMAT", str(logFormat))
	env("log-level", "WG_AGENT_LOG_LEVEL", str(logLevel))
	env("uapi-dir", "WG_AGENT_UAPI_DIR", str(uapiDir))
	env("metrics-listen", "WG_AGENT_METRICS_LISTEN", str(metrics))
	env("signature-window", "WG_AGENT_SIGNATURE_WINDOW", func(v string) error {
		d, err := time.ParseDuration(v)
		*window = d
		return err
	})
	list := func(p *multiFlag) func(string) error {
		return func(v string) error {
			for _, a := range strings.Split(v, ",") {
				*p = append(*p, strings.TrimSpace(a))
			}
			return nil
		}
	}
	dur := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			*p = d
			return err
		}
	}
	env("address", "WG_AGENT_ADDRESS", list(&addresses))
	env("egress-allow", "WG_AGENT_EGRESS_ALLOW", list(&allow))
	env("egress-deny", "WG_AGENT_EGRESS_DENY", list(&deny))
	env("max-tcp-conns", "WG_AGENT_MAX_TCP_CONNS", num(maxTCP))
	env("max-udp-flows", "WG_AGENT_MAX_UDP_FLOWS", num(maxUDP))
	env("tcp-idle-timeout", "WG_AGENT_TCP_IDLE_TIMEOUT", dur(tcpIdle))
	env("udp-idle-timeout", "WG_AGENT_UDP_IDLE_TIMEOUT", dur(udpIdle))

	o := options{secretFile: *secretFile, logFormat: *logFormat}
	if err := o.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("log level %q: must be debug, info, warn or error", *logLevel))
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		errs = append(errs, fmt.Errorf("log format %q: must be text or json", o.logFormat))
	}
	o.cfg = agent.Config{
		Listen: *listen, Mode: *mode, StateDir: *stateDir, SignatureWindow: *window, UAPIDir: *uapiDir,
		MetricsListen: *metrics,
	}

	if *configFile != "" {
		for _, f := range []string{"iface", "address", "listen-port", "mtu",
			"egress-allow", "egress-deny", "max-tcp-conns", "max-udp-flows", "tcp-idle-timeout", "udp-idle-timeout"} {
			if set[f] {
				errs = append(errs, fmt.Errorf("--%s cannot be combined with --config: list interfaces in the file", f))
			}
		}
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return options{}, fmt.Errorf("reading config file: %w", err)
		}
		fc, err := agent.ParseConfigFile(data)
		if err != nil {
			return options{}, err
		}
		if fc.Listen != "" && !set["listen"] {
			o.cfg.Listen = fc.Listen
		}
		if fc.Mode != "" && !set["mode"] {
			o.cfg.Mode = fc.Mode
		}
		if fc.StateDir != "" && !set["state-dir"] {
			o.cfg.StateDir = fc.StateDir
		}
		if fc.SecretFile != "" && !set["secret-file"] {
			o.secretFile = fc.SecretFile
		}
		if fc.MetricsListen != "" && !set["metrics-listen"] {
			o.cfg.MetricsListen = fc.MetricsListen
		}
		for _, fi := range fc.Interfaces {
			prefixes, _ := fi.Prefixes() // validated by ParseConfigFile
			egressAllow, egressDeny, _ := fi.Egress()
			tcpIdle, udpIdle, _ := fi.IdleTimeouts()
			port := agent.DefaultListenPort
			if fi.ListenPort != nil {
				port = *fi.ListenPort
			}
			o.cfg.Interfaces = append(o.cfg.Interfaces, agent.InterfaceConfig{
				Name: fi.Name, Addresses: prefixes, ListenPort: port, MTU: fi.MTU, Mode: fi.Mode,
				EgressAllow: egressAllow, EgressDeny: egressDeny, MaxTCPConns: fi.MaxTCPConns, MaxUDPFlows: fi.MaxUDPFlows,
				TCPIdleTimeout: tcpIdle, UDPIdleTimeout: udpIdle,
			})
		}
	} else {
		ic := agent.InterfaceConfig{
			Name: *ifaceName, ListenPort: *listenPort, MTU: *mtu,
			MaxTCPConns: *maxTCP, MaxUDPFlows: *maxUDP, TCPIdleTimeout: *tcpIdle, UDPIdleTimeout: *udpIdle,
		}
		var err error
		if ic.EgressAllow, err = egress.ParseRules(allow); err != nil {
			errs = append(errs, fmt.Errorf("--egress-allow: %w", err))
		}
		if ic.EgressDeny, err = egress.ParseRules(deny); err != nil {
			errs = append(errs, fmt.Errorf("--egress-deny: %w", err))
		}
		for _, a := range addresses {
			p, err := netip.ParsePrefix(a)
			if err != nil {
				errs = append(errs, fmt.Errorf("--address %q is not a CIDR (like 10.8.0.1/24)", a))
				continue
			}
			ic.Addresses = append(ic.Addresses, p)
		}
		o.cfg.Interfaces = []agent.InterfaceConfig{ic}
	}

	secrets, err := loadSecrets(o.secretFile, getenv("WG_AGENT_SECRET"))
	if err != nil {
		errs = append(errs, err)
	}
	o.cfg.Secrets = secrets
	if err := errors.Join(errs...); err != nil {
		return options{}, err
	}
	if err := o.cfg.Validate(); err != nil {
		return options{}, err
	}
	return o, nil
}

// loadSecrets reads the accepted secrets: every non-empty, non-comment line
// of the secret file (several lines allow rotation), else WG_AGENT_SECRET.
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

func newLogger(o options, w io.Writer) *slog.Logger {
	ho := &slog.HandlerOptions{Level: o.logLevel}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}
