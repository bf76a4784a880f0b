package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
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
//	  "interfaces": [
//	    {"name": "wg0", "addresses": ["10.8.0.1/24", "fd00:8::1/64"], "listen_port": 51820, "mtu": 1420},
//	    {"name": "wg1", "addresses": ["10.9.0.1/24"], "listen_port": 51821, "mode": "netstack"}
//	  ]
//	}
type FileConfig struct {
	Listen     string          `json:"listen"`
	Mode       string          `json:"mode"`
	StateDir   string          `json:"state_dir"`
	SecretFile string          `json:"secret_file"`
	Interfaces []FileInterface `json:"interfaces"`
}

// FileInterface is one interface in a FileConfig.
type FileInterface struct {
	Name       string   `json:"name"`
	Addresses  []string `json:"addresses"`
	ListenPort *int     `json:"listen_port"`
	MTU        int      `json:"mtu"`
	Mode       string   `json:"mode"`
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
