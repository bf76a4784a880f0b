package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// FileConfig is the --config file: JSON, for agents with several
// interfaces. Fields left out keep their flag, environment or default value.
// The secret itself is never in this file; secret_file points at it.
//
//	{
//	  "listen": ":8080",
//	  "mode": "auto",
//	  "state_dir": "/var/lib/wg-agent",
//	  "secret_file": "/etc/wg-agent/secret",
//	  "metrics_listen": "10.0.0.5:9586",
//	  "interfaces": [
//	    {"name": "wg0", "addresses": ["10.8.0.1/24", "fd00:8::1/64"], "listen_port": 51820, "mtu": 1420},
//	    {"name": "wg1", "addresses": ["10.9.0.1/24"], "listen_port": 51821, "mode": "netstack",
//	     "egress_allow": ["10.0.0.0/8", "192.0.2.10:443"], "egress_deny": ["10.0.0.5/32:22"],
//	     "max_tcp_conns": 512, "max_udp_flows": 512, "tcp_idle_timeout": "30m", "udp_idle_timeout": "1m"}
//	  ]
//	}
type FileConfig struct {
	Listen        string          `json:"listen"`
	Mode          string          `json:"mode"`
	StateDir      string          `json:"state_dir"`
	SecretFile    string          `json:"secret_file"`
	MetricsListen string          `json:"metrics_listen"` // unauthenticated, for a private address; "" is off
	Interfaces    []FileInterface `json:"interfaces"`
}

// FileInterface is one interface in a FileConfig.
type FileInterface struct {
	Name       string   `json:"name"`
	Addresses  []string `json:"addresses"`
	ListenPort *int     `json:"listen_port"`
	MTU        int      `json:"mtu"`
	Mode       string   `json:"mode"`

	// Routing of a netstack interface; see InterfaceConfig. Rules are
	// CIDR or CIDR:PORT; timeouts are Go durations ("90s", "1h").
	EgressAllow    []string `json:"egress_allow"`
	EgressDeny     []string `json:"egress_deny"`
	MaxTCPConns    int      `json:"max_tcp_conns"`
	MaxUDPFlows    int      `json:"max_udp_flows"`
	TCPIdleTimeout string   `json:"tcp_idle_timeout"`
	UDPIdleTimeout string   `json:"udp_idle_timeout"`
}

// ParseConfigFile decodes a config file strictly: unknown fields, trailing
// data and malformed addresses are errors that name the field.
func ParseConfigFile(data []byte) (FileConfig, error) {
	var fc FileConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fc); err != nil {
		return FileConfig{}, fmt.Errorf("config file: %w", err)
	}
	if dec.More() {
		return FileConfig{}, errors.New("config file: trailing data after the JSON object")
	}
	for i, fi := range fc.Interfaces {
		if _, err := fi.Prefixes(); err != nil {
			return FileConfig{}, fmt.Errorf("config file: interfaces[%d]: %w", i, err)
		}
		if _, _, err := fi.Egress(); err != nil {
			return FileConfig{}, fmt.Errorf("config file: interfaces[%d]: %w", i, err)
		}
		if _, _, err := fi.IdleTimeouts(); err != nil {
			return FileConfig{}, fmt.Errorf("config file: interfaces[%d]: %w", i, err)
		}
	}
	return fc, nil
}

// Prefixes parses the interface's addresses.
func (fi FileInterface) Prefixes() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(fi.Addresses))
	for _, s := range fi.Addresses {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("address %q is not a CIDR (like 10.8.0.1/24)", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// Egress parses the interface's egress rules.
func (fi FileInterface) Egress() (allow, deny []egress.Rule, err error) {
	if allow, err = egress.ParseRules(fi.EgressAllow); err != nil {
		return nil, nil, fmt.Errorf("egress_allow: %w", err)
	}
	if deny, err = egress.ParseRules(fi.EgressDeny); err != nil {
		return nil, nil, fmt.Errorf("egress_deny: %w", err)
	}
	return allow, deny, nil
}

// IdleTimeouts parses the interface's idle timeouts; "" is 0 (the
// default).
func (fi FileInterface) IdleTimeouts() (tcp, udp time.Duration, err error) {
	parse := func(field, s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			return 0, fmt.Errorf("%s %q is not a duration (like 90s or 1h)", field, s)
		}
		return d, nil
	}
	if tcp, err = parse("tcp_idle_timeout", fi.TCPIdleTimeout); err != nil {
		return 0, 0, err
	}
	if udp, err = parse("udp_idle_timeout", fi.UDPIdleTimeout); err != nil {
		return 0, 0, err
	}
	return tcp, udp, nil
}
