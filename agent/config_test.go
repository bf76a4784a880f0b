package agent_test

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
)

// validConfig is a configuration Validate accepts, for tests that break
// one field of it.
func validConfig() agent.Config {
	return agent.Config{
		Listen:     "127.0.0.1:0",
		Secrets:    [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		StateDir:   "/var/lib/wg-agent",
		Mode:       "auto",
		Interfaces: []agent.InterfaceConfig{{Name: "wg0"}},
	}
}

func TestValidateSharedRules(t *testing.T) {
	base := validConfig()
	if err := base.Validate(); err != nil {
		t.Fatalf("the base configuration is refused: %v", err)
	}
	tests := []struct {
		name    string
		modify  func(*agent.Config)
		wantErr string // "" means valid
	}{
		{"interface name dot", func(c *agent.Config) { c.Interfaces[0].Name = "." }, `interface name "."`},
		{"interface name dot dot", func(c *agent.Config) { c.Interfaces[0].Name = ".." }, `interface name ".."`},
		{"interface name empty", func(c *agent.Config) { c.Interfaces[0].Name = "" }, "interface name is empty"},
		{"interface name slash", func(c *agent.Config) { c.Interfaces[0].Name = "wg/0" }, `interface name "wg/0"`},
		{"interface name too long", func(c *agent.Config) { c.Interfaces[0].Name = "abcdefghijklmnop" }, "longer than 15"},
		{"interface name three dots", func(c *agent.Config) { c.Interfaces[0].Name = "..." }, ""},
		{"interface name punctuation", func(c *agent.Config) { c.Interfaces[0].Name = "wg_a=b+c.d-e" }, ""},
		{"MTU too small", func(c *agent.Config) { c.Interfaces[0].MTU = 575 }, "MTU 575 is out of range 576-65535"},
		{"MTU too big", func(c *agent.Config) { c.Interfaces[0].MTU = 65536 }, "MTU 65536 is out of range"},
		{"MTU smallest", func(c *agent.Config) { c.Interfaces[0].MTU = 576 }, ""},
		{"secret placeholder", func(c *agent.Config) { c.Secrets = [][]byte{[]byte("change-me-in-production")} }, "secret 1 is the placeholder"},
		{"secret placeholder with a newline", func(c *agent.Config) { c.Secrets = [][]byte{[]byte("change-me-in-production\n")} }, "secret 1 is the placeholder"},
		{"second secret short", func(c *agent.Config) { c.Secrets = append(c.Secrets, []byte("short")) }, "secret 2 is 5 bytes; at least 16"},
		{"secret of 16 bytes", func(c *agent.Config) { c.Secrets = [][]byte{[]byte("0123456789abcdef")} }, ""},
		{"tls auto", func(c *agent.Config) { c.TLS = agent.TLSConfig{Mode: agent.TLSAuto} }, ""},
		{"tls files without a key", func(c *agent.Config) { c.TLS = agent.TLSConfig{Mode: agent.TLSFiles, CertFile: "a.crt"} }, "tls files needs a certificate file and a key file"},
		{"tls auto with files", func(c *agent.Config) { c.TLS = agent.TLSConfig{Mode: agent.TLSAuto, CertFile: "a.crt"} }, "tls auto takes no certificate"},
		{"tls unknown mode", func(c *agent.Config) { c.TLS = agent.TLSConfig{Mode: "on"} }, `tls mode "on"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.modify(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
