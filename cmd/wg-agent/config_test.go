package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/internal/testenv"
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
	loose := filepath.Join(dir, "loose")
	if err := os.WriteFile(loose, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o640); err != nil { // WriteFile's mode is cut by the umask
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		secrets int
	}{
		{"file readable by group", []string{"--secret-file", loose}, nil, "chmod 600 " + loose, 0},
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
	testenv.Equal(t, "config file: Listen", o.cfg.Listen, "127.0.0.1:8181")
	testenv.Equal(t, "config file: len(Secrets)", len(o.cfg.Secrets), 1)
	if !testenv.Equal(t, "config file: len(Interfaces)", len(o.cfg.Interfaces), 2) {
		t.FailNow()
	}
	testenv.Equal(t, "config file: Interfaces[1].MTU", o.cfg.Interfaces[1].MTU, 1380)
	if t.Failed() {
		t.FailNow()
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
	testenv.Equal(t, "limits: MaxTCPConns", ic.MaxTCPConns, 7)
	testenv.Equal(t, "limits: MaxUDPFlows", ic.MaxUDPFlows, 8)
	testenv.Equal(t, "limits: TCPIdleTimeout", ic.TCPIdleTimeout, 90*time.Second)
	testenv.Equal(t, "limits: UDPIdleTimeout", ic.UDPIdleTimeout, 15*time.Second)
	if t.Failed() {
		t.FailNow()
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
	ic = o.cfg.Interfaces[0]
	testenv.Equal(t, "environment: len(EgressDeny)", len(ic.EgressDeny), 2)
	testenv.Equal(t, "environment: len(EgressAllow)", len(ic.EgressAllow), 1)
	testenv.Equal(t, "environment: MaxUDPFlows", ic.MaxUDPFlows, 3)
	testenv.Equal(t, "environment: TCPIdleTimeout", ic.TCPIdleTimeout, 5*time.Minute)
	if t.Failed() {
		t.FailNow()
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
	ic := o.cfg.Interfaces[0]
	testenv.Equal(t, "config file egress: len(EgressDeny)", len(ic.EgressDeny), 1)
	testenv.Equal(t, "config file egress: MaxTCPConns", ic.MaxTCPConns, 9)
	testenv.Equal(t, "config file egress: TCPIdleTimeout", ic.TCPIdleTimeout, 2*time.Minute)
	testenv.Equal(t, "config file egress: MaxUDPFlows", ic.MaxUDPFlows, 0)
	if t.Failed() {
		t.FailNow()
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

// TestLoadOptionsDocumented: every flag of the README's table, and its
// environment variable, still sets what it says.
func TestLoadOptionsDocumented(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	iface := func(o options) agent.InterfaceConfig { return o.cfg.Interfaces[0] }
	tests := []struct {
		flag, env, value string
		got              func(options) string
	}{
		{"listen", "WG_AGENT_LISTEN", "127.0.0.1:7000", func(o options) string { return o.cfg.Listen }},
		{"secret-file", "WG_AGENT_SECRET_FILE", secretFile, func(o options) string { return o.secretFile }},
		{"iface", "WG_AGENT_IFACE", "wg7", func(o options) string { return iface(o).Name }},
		{"address", "WG_AGENT_ADDRESS", "10.7.0.1/24", func(o options) string { return fmt.Sprint(iface(o).Addresses) }},
		{"listen-port", "WG_AGENT_LISTEN_PORT", "51827", func(o options) string { return strconv.Itoa(iface(o).ListenPort) }},
		{"mtu", "WG_AGENT_MTU", "1300", func(o options) string { return strconv.Itoa(iface(o).MTU) }},
		{"mode", "WG_AGENT_MODE", "netstack", func(o options) string { return string(o.cfg.Mode) }},
		{"state-dir", "WG_AGENT_STATE_DIR", "/tmp/x", func(o options) string { return o.cfg.StateDir }},
		{"log-format", "WG_AGENT_LOG_FORMAT", "json", func(o options) string { return string(o.logFormat) }},
		{"log-level", "WG_AGENT_LOG_LEVEL", "debug", func(o options) string { return strings.ToLower(o.logLevel.String()) }},
		{"signature-window", "WG_AGENT_SIGNATURE_WINDOW", "1m0s", func(o options) string { return o.cfg.SignatureWindow.String() }},
		{"metrics-listen", "WG_AGENT_METRICS_LISTEN", "127.0.0.1:9586", func(o options) string { return o.cfg.MetricsListen }},
		{"uapi-dir", "WG_AGENT_UAPI_DIR", "/run/x", func(o options) string { return o.cfg.UAPIDir }},
		{"max-connections", "WG_AGENT_MAX_CONNECTIONS", "64", func(o options) string { return strconv.Itoa(o.cfg.MaxConnections) }},
		{"egress-allow", "WG_AGENT_EGRESS_ALLOW", "10.0.0.0/8", func(o options) string { return fmt.Sprint(iface(o).EgressAllow) }},
		{"egress-deny", "WG_AGENT_EGRESS_DENY", "10.0.0.5/32:22", func(o options) string { return fmt.Sprint(iface(o).EgressDeny) }},
		{"max-tcp-conns", "WG_AGENT_MAX_TCP_CONNS", "7", func(o options) string { return strconv.Itoa(iface(o).MaxTCPConns) }},
		{"max-udp-flows", "WG_AGENT_MAX_UDP_FLOWS", "8", func(o options) string { return strconv.Itoa(iface(o).MaxUDPFlows) }},
		{"tcp-idle-timeout", "WG_AGENT_TCP_IDLE_TIMEOUT", "5m0s", func(o options) string { return iface(o).TCPIdleTimeout.String() }},
		{"udp-idle-timeout", "WG_AGENT_UDP_IDLE_TIMEOUT", "15s", func(o options) string { return iface(o).UDPIdleTimeout.String() }},
		{"tls", "WG_AGENT_TLS", "auto", func(o options) string { return o.cfg.TLS.String() }},
	}
	for _, tt := range tests {
		want := tt.value
		if strings.HasPrefix(tt.flag, "egress-") || tt.flag == "address" {
			want = "[" + tt.value + "]"
		}
		t.Run(tt.flag, func(t *testing.T) {
			base := map[string]string{"WG_AGENT_SECRET": goodSecret}
			def, err := loadOptions(nil, envOf(base), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if tt.got(def) == want {
				t.Fatalf("the test value %q is the default", want)
			}
			o, err := loadOptions([]string{"--" + tt.flag, tt.value}, envOf(base), io.Discard)
			if err != nil {
				t.Fatalf("--%s: %v", tt.flag, err)
			}
			if got := tt.got(o); got != want {
				t.Errorf("--%s %s gave %q", tt.flag, tt.value, got)
			}
			base[tt.env] = tt.value
			o, err = loadOptions(nil, envOf(base), io.Discard)
			if err != nil {
				t.Fatalf("%s: %v", tt.env, err)
			}
			if got := tt.got(o); got != want {
				t.Errorf("%s=%s gave %q", tt.env, tt.value, got)
			}
		})
	}
}

// TestLoadOptionsBadEnv: a bad environment value is an error that names
// the variable; none is dropped.
func TestLoadOptionsBadEnv(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{"WG_AGENT_MTU", "big", `WG_AGENT_MTU: "big" is not a number`},
		{"WG_AGENT_LISTEN_PORT", "51820x", `WG_AGENT_LISTEN_PORT: "51820x" is not a number`},
		{"WG_AGENT_MAX_TCP_CONNS", "many", `WG_AGENT_MAX_TCP_CONNS: "many" is not a number`},
		{"WG_AGENT_SIGNATURE_WINDOW", "5", `WG_AGENT_SIGNATURE_WINDOW: "5" is not a duration`},
		{"WG_AGENT_UDP_IDLE_TIMEOUT", "soon", `WG_AGENT_UDP_IDLE_TIMEOUT: "soon" is not a duration`},
		{"WG_AGENT_ADDRESS", "10.8.0.1/24,10.9.0.1", `WG_AGENT_ADDRESS: "10.9.0.1" is not a CIDR`},
		{"WG_AGENT_EGRESS_ALLOW", "10.0.0.0/8:0", "WG_AGENT_EGRESS_ALLOW: invalid egress rule"},
		{"WG_AGENT_EGRESS_DENY", "example.com", "WG_AGENT_EGRESS_DENY: invalid egress rule"},
		{"WG_AGENT_LOG_LEVEL", "loud", `WG_AGENT_LOG_LEVEL: log level "loud"`},
		{"WG_AGENT_LOG_FORMAT", "xml", `WG_AGENT_LOG_FORMAT: log format "xml"`},
		{"WG_AGENT_PORT", "http", `WG_AGENT_PORT="http" is not a port`},
		{"WG_AGENT_PORT", "0", `WG_AGENT_PORT="0" is not a port`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			env := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret, tt.env: tt.value})
			_, err := loadOptions(nil, env, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestLoadOptionsBadConfigFile: a bad field of the config file is an
// error that names the field; none is dropped.
func TestLoadOptionsBadConfigFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, iface, want string
	}{
		{"address", `"addresses":["10.8.0.1/24","10.8.0.2"]`, `interfaces[0]: address "10.8.0.2" is not a CIDR`},
		{"egress allow", `"egress_allow":["10.0.0.0/33"]`, "interfaces[0]: egress_allow: invalid egress rule"},
		{"egress deny", `"egress_deny":["nowhere"]`, "interfaces[0]: egress_deny: invalid egress rule"},
		{"tcp idle", `"tcp_idle_timeout":"soon"`, `interfaces[0]: tcp_idle_timeout "soon" is not a duration`},
		{"udp idle", `"udp_idle_timeout":"-1s"`, `interfaces[0]: udp_idle_timeout "-1s" is not a duration`},
		{"port type", `"listen_port":"51820"`, "listen_port"},
		{"unknown field", `"egress":["10.0.0.0/8"]`, `unknown field "egress"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".json")
			if err := os.WriteFile(path, []byte(`{"interfaces":[{"name":"wg0",`+tt.iface+`}]}`), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadOptions([]string{"--config", path}, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret}), io.Discard)
			if err == nil || !strings.Contains(err.Error(), "config file: ") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one about the config file containing %q", err, tt.want)
			}
		})
	}
	if _, err := loadOptions([]string{"--config", filepath.Join(dir, "missing.json")}, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret}), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "reading config file") {
		t.Fatalf("missing config file: %v", err)
	}
}

// TestLoadOptionsConfigFilePrecedence: the command line, then the
// environment, then the file, then WG_AGENT_PORT, then the default; an
// interface flag from the environment is refused beside a file as one
// from the command line is.
func TestLoadOptionsConfigFilePrecedence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(path, []byte(`{"listen":"127.0.0.1:8181","mode":"netstack","state_dir":"/tmp/file-state",
		"interfaces":[{"name":"wg0","addresses":["10.8.0.1/24"],"mtu":1380},{"name":"wg1","listen_port":51821}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	noListen := filepath.Join(dir, "nolisten.json")
	if err := os.WriteFile(noListen, []byte(`{"interfaces":[{"name":"wg0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantListen string
		wantMode   string
	}{
		{"file", []string{"--config", path}, nil, "127.0.0.1:8181", "netstack"},
		{"file over WG_AGENT_PORT", []string{"--config", path}, map[string]string{"WG_AGENT_PORT": "9090"}, "127.0.0.1:8181", "netstack"},
		{"WG_AGENT_PORT without listen in the file", []string{"--config", noListen}, map[string]string{"WG_AGENT_PORT": "9090"}, ":9090", "auto"},
		{"env over file", []string{"--config", path}, map[string]string{"WG_AGENT_LISTEN": "127.0.0.1:7001", "WG_AGENT_MODE": "tun"}, "127.0.0.1:7001", "tun"},
		{"flag over env", []string{"--config", path, "--listen", "127.0.0.1:7002"}, map[string]string{"WG_AGENT_LISTEN": "127.0.0.1:7001"}, "127.0.0.1:7002", "netstack"},
		{"config from env", nil, map[string]string{"WG_AGENT_CONFIG": path}, "127.0.0.1:8181", "netstack"},
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
			if o.cfg.Listen != tt.wantListen || string(o.cfg.Mode) != tt.wantMode {
				t.Fatalf("listen %q mode %q, want %q and %q", o.cfg.Listen, o.cfg.Mode, tt.wantListen, tt.wantMode)
			}
		})
	}
	o, err := loadOptions([]string{"--config", path}, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.cfg.StateDir != "/tmp/file-state" {
		t.Errorf("state dir %q, want the file's", o.cfg.StateDir)
	}
	// wg0 on the default port with MTU 1380, wg1 on 51821 with the tunnel's MTU.
	if ics := o.cfg.Interfaces; testenv.Equal(t, "len(Interfaces)", len(ics), 2) {
		testenv.Equal(t, "Interfaces[0].ListenPort", ics[0].ListenPort, agent.DefaultListenPort)
		testenv.Equal(t, "Interfaces[0].MTU", ics[0].MTU, 1380)
		testenv.Equal(t, "Interfaces[1].ListenPort", ics[1].ListenPort, 51821)
		testenv.Equal(t, "Interfaces[1].MTU", ics[1].MTU, 0)
	}
	_, err = loadOptions([]string{"--config", path}, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret, "WG_AGENT_IFACE": "wg5", "WG_AGENT_MTU": "1400"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--iface cannot be combined with --config") || !strings.Contains(err.Error(), "--mtu cannot be combined with --config") {
		t.Fatalf("interface flags from the environment beside --config: %v", err)
	}
	_, err = loadOptions([]string{"--config", path}, envOf(map[string]string{"WG_AGENT_SECRET": goodSecret, "WG_AGENT_PORT": "http"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "WG_AGENT_PORT") {
		t.Fatalf("a bad WG_AGENT_PORT beside a file's listen: %v", err)
	}
}

func TestHelpNamesTheEnvironment(t *testing.T) {
	var out strings.Builder
	if _, err := loadOptions([]string{"-h"}, envOf(nil), &out); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"--listen string", "env WG_AGENT_LISTEN;", "--address value", "env WG_AGENT_ADDRESS, comma-separated", `default ":8080"`, "default 51820", "default info"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help does not say %q:\n%s", want, out.String())
		}
	}
}

// TestLoadOptionsMaxConnections: the default, the config file's
// max_connections, the flag over it, and a negative value refused.
func TestLoadOptionsMaxConnections(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(file, []byte(`{"secret_file":"`+secret+`","max_connections":32,"interfaces":[{"name":"wg0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret})
	for _, tt := range []struct {
		name string
		args []string
		want int
	}{
		{"default", nil, agent.DefaultMaxConnections},
		{"config file", []string{"--config", file}, 32},
		{"flag wins over config file", []string{"--config", file, "--max-connections", "48"}, 48},
	} {
		o, err := loadOptions(tt.args, env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if o.cfg.MaxConnections != tt.want {
			t.Errorf("%s: MaxConnections %d, want %d", tt.name, o.cfg.MaxConnections, tt.want)
		}
	}
	if _, err := loadOptions([]string{"--max-connections", "-1"}, env, io.Discard); err == nil || !strings.Contains(err.Error(), "max connections") {
		t.Fatalf("--max-connections -1: %v, want an error", err)
	}
}

// TestLoadOptionsTLS: --tls is off by default, takes auto and CERT,KEY,
// is read from the config file's "tls", and the flag wins over the file.
func TestLoadOptionsTLS(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(goodSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "agent.json")
	if err := os.WriteFile(file, []byte(`{"secret_file":"`+secret+`","tls":"/etc/a.crt,/etc/a.key","interfaces":[{"name":"wg0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"WG_AGENT_SECRET": goodSecret})
	for _, tt := range []struct {
		name string
		args []string
		want agent.TLSConfig
	}{
		{"default", nil, agent.TLSConfig{Mode: agent.TLSOff}},
		{"auto", []string{"--tls", "auto"}, agent.TLSConfig{Mode: agent.TLSAuto}},
		{"files", []string{"--tls", "c.pem,k.pem"}, agent.TLSConfig{Mode: agent.TLSFiles, CertFile: "c.pem", KeyFile: "k.pem"}},
		{"config file", []string{"--config", file}, agent.TLSConfig{Mode: agent.TLSFiles, CertFile: "/etc/a.crt", KeyFile: "/etc/a.key"}},
		{"flag wins over config file", []string{"--config", file, "--tls", "off"}, agent.TLSConfig{Mode: agent.TLSOff}},
	} {
		o, err := loadOptions(tt.args, env, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		testenv.Equal(t, tt.name+": TLS", o.cfg.TLS, tt.want)
	}
	if _, err := loadOptions([]string{"--tls", "yes"}, env, io.Discard); err == nil || !strings.Contains(err.Error(), "auto, off or CERT,KEY") {
		t.Fatalf("--tls yes: %v, want an error naming the forms", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"secret_file":"`+secret+`","tls":"on","interfaces":[{"name":"wg0"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOptions([]string{"--config", bad}, env, io.Discard); err == nil || !strings.Contains(err.Error(), "config file") {
		t.Fatalf("config file tls \"on\": %v, want an error naming the config file", err)
	}
}
