package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const goodSecret = "0123456789abcdef0123456789abcdef"

func TestLoadOptionsDefaults(t *testing.T) {
	o, err := loadOptions(nil, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.cfg
	if c.Listen != ":8080" || c.Mode != "auto" || len(c.Interfaces) != 1 {
		t.Fatalf("defaults: %+v", c)
	}
	ic := c.Interfaces[0]
	if ic.Name != "wg0" || ic.ListenPort != 51820 || ic.MTU != 1420 {
		t.Fatalf("interface defaults: %+v", ic)
	}
}

func TestLoadOptionsSecrets(t *testing.T) {
	dir := t.TempDir()
	multi := filepath.Join(dir, "secrets")
	if err := os.WriteFile(multi, []byte("# rotation\n"+goodSecret+"\n\nfedcba9876543210fedcba9876543210\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		secrets int
	}{
		{"none", nil, nil, "no secret", 0},
		{"placeholder", nil, map[string]string{"WG_AGENT_SECRET": "change-me-in-production"}, "placeholder", 0},
		{"short", nil, map[string]string{"WG_AGENT_SECRET": "short"}, "at least 16", 0},
		{"env", nil, map[string]string{"WG_AGENT_SECRET": goodSecret}, "", 1},
		{"file with two", []string{"--secret-file", multi}, nil, "", 2},
		{"missing file", []string{"--secret-file", filepath.Join(dir, "nope")}, nil, "secret file", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := loadOptions(tt.args, envOf(tt.env), io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(o.cfg.Secrets) != tt.secrets {
				t.Fatalf("%d secrets, want %d", len(o.cfg.Secrets), tt.secrets)
			}
		})
	}
}

func TestLoadOptionsPrecedence(t *testing.T) {
	env := map[string]string{"WG_AGENT_SECRET": goodSecret, "WG_AGENT_PORT": "9090", "WG_AGENT_MODE": "netstack", "WG_AGENT_ADDRESS": "10.8.0.1/24, fd00:8::1/64"}
	o, err := loadOptions(nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Listen != ":9090" || o.cfg.Mode != "netstack" || len(o.cfg.Interfaces[0].Addresses) != 2 {
		t.Fatalf("env not applied: %+v", o.cfg)
	}
	o, err = loadOptions([]string{"--listen", "127.0.0.1:7000", "--mode", "tun", "--address", "10.9.0.1/24"}, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Listen != "127.0.0.1:7000" || o.cfg.Mode != "tun" || len(o.cfg.Interfaces[0].Addresses) != 1 {
		t.Fatalf("flags do not win over env: %+v", o.cfg)
	}
}

func TestLoadOptionsBadInput(t *testing.T) {
	env := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret})
	for name, args := range map[string][]string{
		"bad address": {"--address", "10.0.0.1"},
		"bad mode":    {"--mode", "kernel"},
		"bad iface":   {"--iface", "this-name-is-too-long"},
		"bad mtu":     {"--mtu", "100"},
		"bad port":    {"--listen-port", "70000"},
		"bad level":   {"--log-level", "loud"},
		"bad format":  {"--log-format", "xml"},
		"extra arg":   {"serve"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadOptions(args, env, io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestLoadOptionsConfigFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "agent.json")
	cfg := `{"listen":"127.0.0.1:8181","mode":"netstack","secret_file":"` + secret + `","interfaces":[
		{"name":"wg0","addresses":["10.8.0.1/24"],"listen_port":51820},
		{"name":"wg1","addresses":["10.9.0.1/24","fd00:9::1/64"],"listen_port":51821,"mtu":1380}]}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := loadOptions([]string{"--config", cfgPath}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.Listen != "127.0.0.1:8181" || len(o.cfg.Interfaces) != 2 || o.cfg.Interfaces[1].MTU != 1380 || len(o.cfg.Secrets) != 1 {
		t.Fatalf("config file not applied: %+v", o.cfg)
	}
	if _, err := loadOptions([]string{"--config", cfgPath, "--iface", "wg5"}, envOf(nil), io.Discard); err == nil {
		t.Fatal("--iface with --config was accepted")
	}
	dup := filepath.Join(dir, "dup.json")
	_ = os.WriteFile(dup, []byte(`{"secret_file":"`+secret+`","interfaces":[{"name":"wg0","listen_port":1},{"name":"wg0","listen_port":2}]}`), 0o600)
	if _, err := loadOptions([]string{"--config", dup}, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Fatalf("duplicate interface: %v", err)
	}
}

func TestLoadOptionsEgressAndLimits(t *testing.T) {
	env := map[string]string{"WG_AGENT_SECRET": goodSecret}
	o, err := loadOptions([]string{
		"--egress-allow", "10.0.0.0/8", "--egress-allow", "[fd00::1]:53",
		"--egress-deny", "10.0.0.5/32:22-23",
		"--max-tcp-conns", "7", "--max-udp-flows", "8", "--tcp-idle-timeout", "90s", "--udp-idle-timeout", "15s",
	}, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ic := o.cfg.Interfaces[0]
	if len(ic.EgressAllow) != 2 || ic.EgressAllow[1].String() != "fd00::1/128:53" || len(ic.EgressDeny) != 1 || ic.EgressDeny[0].String() != "10.0.0.5/32:22-23" {
		t.Fatalf("egress rules: allow %v deny %v", ic.EgressAllow, ic.EgressDeny)
	}
	if ic.MaxTCPConns != 7 || ic.MaxUDPFlows != 8 || ic.TCPIdleTimeout != 90*time.Second || ic.UDPIdleTimeout != 15*time.Second {
		t.Fatalf("limits: %+v", ic)
	}

	// Defaults, and the environment.
	o, err = loadOptions(nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ic := o.cfg.Interfaces[0]; len(ic.EgressAllow)+len(ic.EgressDeny) != 0 || ic.MaxTCPConns != 1024 || ic.UDPIdleTimeout != 2*time.Minute {
		t.Fatalf("defaults: %+v", ic)
	}
	env["WG_AGENT_EGRESS_DENY"] = "192.0.2.0/24, 198.51.100.1:80"
	env["WG_AGENT_EGRESS_ALLOW"] = "0.0.0.0/0"
	env["WG_AGENT_MAX_UDP_FLOWS"] = "3"
	env["WG_AGENT_TCP_IDLE_TIMEOUT"] = "5m"
	o, err = loadOptions(nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ic := o.cfg.Interfaces[0]; len(ic.EgressDeny) != 2 || len(ic.EgressAllow) != 1 || ic.MaxUDPFlows != 3 || ic.TCPIdleTimeout != 5*time.Minute {
		t.Fatalf("environment: %+v", ic)
	}
	// A flag wins over the environment.
	o, err = loadOptions([]string{"--egress-deny", "203.0.113.0/24"}, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ic := o.cfg.Interfaces[0]; len(ic.EgressDeny) != 1 || ic.EgressDeny[0].String() != "203.0.113.0/24" {
		t.Fatalf("flag over env: %v", ic.EgressDeny)
	}
}

func TestLoadOptionsEgressBadInput(t *testing.T) {
	env := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad allow", []string{"--egress-allow", "10.0.0.0/8:0"}, "--egress-allow"},
		{"bad deny", []string{"--egress-deny", "example.com"}, "--egress-deny"},
		{"negative limit", []string{"--max-tcp-conns", "-1"}, "limits"},
		{"negative idle", []string{"--udp-idle-timeout", "-1s"}, "idle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadOptions(tt.args, env, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one about %s", err, tt.want)
			}
		})
	}
	bad := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret, "WG_AGENT_TCP_IDLE_TIMEOUT": "soon"})
	if _, err := loadOptions(nil, bad, io.Discard); err == nil || !strings.Contains(err.Error(), "WG_AGENT_TCP_IDLE_TIMEOUT") {
		t.Fatalf("bad env duration: %v", err)
	}
}

func TestLoadOptionsConfigFileEgress(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "agent.json")
	cfg := `{"secret_file":"` + secret + `","interfaces":[{"name":"wg0","addresses":["10.8.0.1/24"],
		"egress_deny":["10.0.0.0/8"],"max_tcp_conns":9,"tcp_idle_timeout":"2m"}]}`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := loadOptions([]string{"--config", cfgPath}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ic := o.cfg.Interfaces[0]; len(ic.EgressDeny) != 1 || ic.MaxTCPConns != 9 || ic.TCPIdleTimeout != 2*time.Minute || ic.MaxUDPFlows != 0 {
		t.Fatalf("config file egress not applied: %+v", ic)
	}
	if _, err := loadOptions([]string{"--config", cfgPath, "--egress-deny", "1.2.3.4"}, envOf(nil), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--egress-deny cannot be combined with --config") {
		t.Fatalf("--egress-deny with --config: %v", err)
	}
}

func TestLoadOptionsMetricsListen(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withFile := filepath.Join(dir, "metrics.json")
	if err := os.WriteFile(withFile, []byte(`{"secret_file":"`+secret+`","metrics_listen":"10.0.0.5:9586",
		"interfaces":[{"name":"wg0","addresses":["10.8.0.1/24"]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	withoutFile := filepath.Join(dir, "plain.json")
	if err := os.WriteFile(withoutFile, []byte(`{"secret_file":"`+secret+`","interfaces":[{"name":"wg0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"off by default", nil, nil, ""},
		{"flag", []string{"--metrics-listen", "127.0.0.1:9586"}, nil, "127.0.0.1:9586"},
		{"env", nil, map[string]string{"WG_AGENT_METRICS_LISTEN": "10.0.0.5:9586"}, "10.0.0.5:9586"},
		{"flag wins over env", []string{"--metrics-listen", "127.0.0.1:9100"},
			map[string]string{"WG_AGENT_METRICS_LISTEN": "10.0.0.5:9586"}, "127.0.0.1:9100"},
		{"IPv6", []string{"--metrics-listen", "[fd00::5]:9586"}, nil, "[fd00::5]:9586"},
		{"free port", []string{"--metrics-listen", "127.0.0.1:0"}, nil, "127.0.0.1:0"},
		{"same port as the API on another address", []string{"--listen", "10.0.0.5:8080", "--metrics-listen", "127.0.0.1:8080"}, nil, "127.0.0.1:8080"},
		{"config file", []string{"--config", withFile}, nil, "10.0.0.5:9586"},
		{"config file without it", []string{"--config", withoutFile}, nil, ""},
		{"flag wins over config file", []string{"--config", withFile, "--metrics-listen", "127.0.0.1:9586"}, nil, "127.0.0.1:9586"},
		{"empty flag turns the config file's off", []string{"--config", withFile, "--metrics-listen", ""}, nil, ""},
		{"env wins over config file", []string{"--config", withFile},
			map[string]string{"WG_AGENT_METRICS_LISTEN": "127.0.0.1:9586"}, "127.0.0.1:9586"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"WG_AGENT_SECRET": goodSecret}
			for k, v := range tt.env {
				env[k] = v
			}
			o, err := loadOptions(tt.args, envOf(env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if o.cfg.MetricsListen != tt.want {
				t.Fatalf("MetricsListen %q, want %q", o.cfg.MetricsListen, tt.want)
			}
		})
	}
}

func TestLoadOptionsMetricsListenBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no port", []string{"--metrics-listen", "127.0.0.1"}, nil, "metrics listen address"},
		{"named port", []string{"--metrics-listen", "127.0.0.1:http"}, nil, `port "http" is not a number`},
		{"port out of range", []string{"--metrics-listen", "127.0.0.1:70000"}, nil, `port "70000" is not a number`},
		{"bad env", nil, map[string]string{"WG_AGENT_METRICS_LISTEN": "localhost"}, "metrics listen address"},
		{"the API's address", []string{"--listen", "127.0.0.1:8080", "--metrics-listen", "127.0.0.1:8080"}, nil, "overlaps the API's"},
		{"the API's port on every address", []string{"--metrics-listen", "127.0.0.1:8080"}, nil, "overlaps the API's"},
		{"every address on the API's port", []string{"--listen", "127.0.0.1:7000", "--metrics-listen", "[::]:7000"}, nil, "overlaps the API's"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"WG_AGENT_SECRET": goodSecret}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := loadOptions(tt.args, envOf(env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
