package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wgfleet/wgfleet/container"
	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// FileConfig is the --config file, parsed: JSON, for agents with several
// interfaces. Fields the file leaves out are "" and keep their flag,
// environment or default value. The secret itself is never in this file;
// secret_file points at it.
//
//	{
//	  "listen": ":8080",
//	  "mode": "auto",
//	  "state_dir": "/var/lib/wg-agent",
//	  "secret_file": "/etc/wg-agent/secret",
//	  "metrics_listen": "10.0.0.5:9586",
//	  "max_connections": 256,
//	  "tls": "auto",
//	  "interfaces": [
//	    {"name": "wg0", "addresses": ["10.8.0.1/24", "fd00:8::1/64"], "listen_port": 51820, "mtu": 1420},
//	    {"name": "wg1", "addresses": ["10.9.0.1/24"], "listen_port": 51821, "mode": "netstack",
//	     "egress_allow": ["10.0.0.0/8", "192.0.2.10:443"], "egress_deny": ["10.0.0.5/32:22"],
//	     "max_tcp_conns": 512, "max_udp_flows": 512, "tcp_idle_timeout": "30m", "udp_idle_timeout": "1m"}
//	  ]
//	}
type FileConfig struct {
	Listen        string
	Mode          container.Mode
	StateDir      string
	SecretFile    string
	MetricsListen string // unauthenticated, for a private address; "" is off
	// MaxConnections bounds the API's open connections; 0 (left out)
	// keeps the flag's, environment's or default value.
	MaxConnections int
	// TLS is "tls" as ParseTLS reads it; the zero value (left out) keeps
	// the flag's, environment's or default value.
	TLS TLSConfig
	// Interfaces are the file's interfaces in its order. A listen_port
	// left out is DefaultListenPort; an mtu, limit or timeout left out is
	// 0, the default of the layer that uses it. They are parsed, not yet
	// validated: Config.Validate does that.
	Interfaces []InterfaceConfig
}

// fileJSON is the config file as written.
type fileJSON struct {
	Listen         string          `json:"listen"`
	Mode           container.Mode  `json:"mode"`
	StateDir       string          `json:"state_dir"`
	SecretFile     string          `json:"secret_file"`
	MetricsListen  string          `json:"metrics_listen"`
	MaxConnections int             `json:"max_connections"`
	TLS            string          `json:"tls"`
	Interfaces     []fileInterface `json:"interfaces"`
}

// fileInterface is one interface as written: rules are CIDR or
// CIDR:PORT, timeouts Go durations ("90s", "1h").
type fileInterface struct {
	Name           string         `json:"name"`
	Addresses      []string       `json:"addresses"`
	ListenPort     *int           `json:"listen_port"`
	MTU            int            `json:"mtu"`
	Mode           container.Mode `json:"mode"`
	EgressAllow    []string       `json:"egress_allow"`
	EgressDeny     []string       `json:"egress_deny"`
	MaxTCPConns    int            `json:"max_tcp_conns"`
	MaxUDPFlows    int            `json:"max_udp_flows"`
	TCPIdleTimeout string         `json:"tcp_idle_timeout"`
	UDPIdleTimeout string         `json:"udp_idle_timeout"`
}

// ParseConfigFile decodes a config file strictly: unknown fields, trailing
// data and malformed addresses, rules or durations are errors that name
// the field.
func ParseConfigFile(data []byte) (FileConfig, error) {
	var fj fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fj); err != nil {
		return FileConfig{}, fmt.Errorf("config file: %w", err)
	}
	if dec.More() {
		return FileConfig{}, errors.New("config file: trailing data after the JSON object")
	}
	fc := FileConfig{
		Listen: fj.Listen, Mode: fj.Mode, StateDir: fj.StateDir, SecretFile: fj.SecretFile,
		MetricsListen: fj.MetricsListen, MaxConnections: fj.MaxConnections,
	}
	if fj.TLS != "" {
		t, err := ParseTLS(fj.TLS)
		if err != nil {
			return FileConfig{}, fmt.Errorf("config file: %w", err)
		}
		fc.TLS = t
	}
	for i, fi := range fj.Interfaces {
		ic, err := fi.parse()
		if err != nil {
			return FileConfig{}, fmt.Errorf("config file: interfaces[%d]: %w", i, err)
		}
		fc.Interfaces = append(fc.Interfaces, ic)
	}
	return fc, nil
}

// parse turns the interface as written into an InterfaceConfig.
func (fi fileInterface) parse() (InterfaceConfig, error) {
	ic := InterfaceConfig{
		Name: fi.Name, ListenPort: DefaultListenPort, MTU: fi.MTU, Mode: fi.Mode,
		MaxTCPConns: fi.MaxTCPConns, MaxUDPFlows: fi.MaxUDPFlows,
	}
	if fi.ListenPort != nil {
		ic.ListenPort = *fi.ListenPort
	}
	for _, s := range fi.Addresses {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return InterfaceConfig{}, fmt.Errorf("address %q is not a CIDR (like 10.8.0.1/24)", s)
		}
		ic.Addresses = append(ic.Addresses, p)
	}
	var err error
	if ic.EgressAllow, err = parseRules(fi.EgressAllow); err != nil {
		return InterfaceConfig{}, fmt.Errorf("egress_allow: %w", err)
	}
	if ic.EgressDeny, err = parseRules(fi.EgressDeny); err != nil {
		return InterfaceConfig{}, fmt.Errorf("egress_deny: %w", err)
	}
	if ic.TCPIdleTimeout, err = parseTimeout("tcp_idle_timeout", fi.TCPIdleTimeout); err != nil {
		return InterfaceConfig{}, err
	}
	if ic.UDPIdleTimeout, err = parseTimeout("udp_idle_timeout", fi.UDPIdleTimeout); err != nil {
		return InterfaceConfig{}, err
	}
	return ic, nil
}

// parseRules parses egress rules; none is nil.
func parseRules(ss []string) ([]egress.Rule, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	return egress.ParseRules(ss)
}

// parseTimeout parses a non-negative duration; "" is 0 (the default).
func parseTimeout(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s %q is not a duration (like 90s or 1h)", field, s)
	}
	return d, nil
}
