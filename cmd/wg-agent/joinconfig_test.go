package main

import (
	"context"
	"encoding/pem"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// joinConfig is a JoinConfig for a fresh state directory on loopback.
func joinConfig(t *testing.T, url, token string) agent.JoinConfig {
	return agent.JoinConfig{
		ControllerURL: url, Token: token, Hostname: "host-" + testenv.UniqueName("j"), StateDir: t.TempDir(), Iface: "wg0",
		ListenPort: freePort(t, "udp"), Listen: "127.0.0.1:" + strconv.Itoa(freePort(t, "tcp")),
		TLS: agent.TLSConfig{Mode: agent.TLSAuto}, Timeout: 10 * time.Second,
	}
}

// TestJoinTrust: an https controller is trusted through the token's pin or
// --join-ca, and refused otherwise; a pin with an http URL is an error
// before anything is sent.
func TestJoinTrust(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t, "")
	front := httptest.NewUnstartedServer(c.Handler())
	front.StartTLS()
	t.Cleanup(front.Close)
	other, otherPin, err := agent.EnsureSelfSignedCert(t.TempDir()) // another certificate
	if err != nil {
		t.Fatal(err)
	}
	newToken := func(pin agentapi.Fingerprint) string {
		tok, _, err := c.Fleet().CreateEnrollmentToken(ctx, "test", fleet.EnrollmentTokenInput{}, pin)
		if err != nil {
			t.Fatal(err)
		}
		return tok.String()
	}
	writeCA := func(der []byte) string {
		path := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	rightPin, wrongPin := agentapi.FingerprintOf(front.Certificate().Raw), otherPin

	tests := []struct {
		name    string
		url     string
		pin     agentapi.Fingerprint
		ca      string
		wantErr string // "" joins
	}{
		{"pinned", front.URL, rightPin, "", ""},
		{"CA file", front.URL, agentapi.Fingerprint{}, writeCA(front.Certificate().Raw), ""},
		{"system CAs", front.URL, agentapi.Fingerprint{}, "", "certificate signed by unknown authority"},
		{"other pin", front.URL, wrongPin, "", "TLS certificate mismatch"},
		{"other CA", front.URL, agentapi.Fingerprint{}, writeCA(other.Certificate[0]), "certificate signed by unknown authority"},
		{"pin over http", c.URL, rightPin, "", "is not https"},
		{"plain http", c.URL, agentapi.Fingerprint{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			jc := joinConfig(t, tc.url, newToken(tc.pin))
			jc.CAFile = tc.ca
			e, err := agent.Join(ctx, jc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Join = %v, want an error saying %q", err, tc.wantErr)
				}
				if _, ok, _ := agent.LoadEnrollment(jc.StateDir); ok {
					t.Fatal("a failed join saved an enrollment")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n, err := c.Store().GetNode(ctx, e.NodeID)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Equal(t, "name", n.Name, jc.Hostname)
			testenv.Equal(t, "agent URL", n.AgentURL, "https://"+jc.Listen)
			testenv.Equal(t, "pinned", n.TLSFingerprint.IsZero(), false)
			testenv.Equal(t, "address", e.Address.String(), n.IPPool.Masked().Addr().Next().String()+"/24")
		})
	}
}

// TestJoinRefused: the controller's refusals reach the caller as a
// *JoinError with its message, and nothing is saved.
func TestJoinRefused(t *testing.T) {
	ctx := context.Background()
	c := controllertest.Start(t, "")
	tok, v, err := c.Fleet().CreateEnrollmentToken(ctx, "test", fleet.EnrollmentTokenInput{}, agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Fleet().RevokeEnrollmentToken(ctx, "test", v.ID); err != nil {
		t.Fatal(err)
	}
	unknown, err := agentapi.NewJoinToken(agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, token, want string }{
		{"revoked", tok.String(), "revoked"},
		{"unknown", unknown.String(), "unknown join token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jc := joinConfig(t, c.URL, tc.token)
			_, err := agent.Join(ctx, jc)
			var je *agent.JoinError
			if !errors.As(err, &je) || je.Status != 401 || !strings.Contains(je.Message, tc.want) {
				t.Fatalf("Join = %v, want a 401 JoinError saying %q", err, tc.want)
			}
			if _, ok, _ := agent.LoadEnrollment(jc.StateDir); ok {
				t.Fatal("a refused join saved an enrollment")
			}
		})
	}
	jc := joinConfig(t, c.URL, "wgj1.short")
	if _, err := agent.Join(ctx, jc); !errors.Is(err, agentapi.ErrBadJoinToken) {
		t.Errorf("malformed token: %v", err)
	}
	jc = joinConfig(t, c.URL, unknown.String())
	jc.Listen = "127.0.0.1:0"
	if _, err := agent.Join(ctx, jc); err == nil || !strings.Contains(err.Error(), "--advertise-url") {
		t.Errorf("no fixed API port: %v", err)
	}
}

// TestLoadOptionsJoin: which flags a joining agent needs, and that an
// enrolled one takes its secret, address and HTTPS from the enrollment
// and ignores any token.
func TestLoadOptionsJoin(t *testing.T) {
	state := t.TempDir()
	base := []string{"--state-dir", state, "--listen", "127.0.0.1:8080"}
	for name, tc := range map[string]struct {
		args    []string
		wantErr string
	}{
		"token without URL": {[]string{"--join-token", "wgj1.x"}, "--join-token needs --join"},
		"URL without token": {[]string{"--join", "https://ctl"}, "--join needs --join-token"},
		"with --config":     {[]string{"--join", "https://ctl", "--join-token", "wgj1.x", "--config", writeConfigFile(t)}, "cannot be combined with --config"},
		"bad MTU, early":    {[]string{"--join", "https://ctl", "--join-token", "wgj1.x", "--mtu", "10"}, "MTU 10"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := loadOptions(append(base, tc.args...), envOf(nil), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("loadOptions = %v, want an error saying %q", err, tc.wantErr)
			}
		})
	}
	o, err := loadOptions(base, envOf(map[string]string{"WG_AGENT_JOIN": "https://ctl", "WG_AGENT_JOIN_TOKEN": "wgj1.x"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.join == nil || o.join.ControllerURL != "https://ctl" || o.cfg.TLS.Mode != agent.TLSAuto {
		t.Fatalf("joining: join %+v, TLS %v; want a join and TLS auto", o.join, o.cfg.TLS)
	}

	// Enrolled: the token is ignored, the enrollment's secret, address and
	// TLS are used; --tls off still wins.
	secret := strings.Repeat("s", 64)
	data := `{"controller":"https://ctl","node_id":7,"name":"n","secret":"` + secret + `","address":"10.128.3.1/24","tls":true}`
	path := filepath.Join(state, agent.EnrollmentFile)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err = loadOptions(base, envOf(map[string]string{"WG_AGENT_JOIN": "https://ctl", "WG_AGENT_JOIN_TOKEN": "wgj1.used"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.join != nil || o.enrolled == nil || o.enrolled.NodeID != 7 {
		t.Fatalf("enrolled: join %+v enrolled %+v", o.join, o.enrolled)
	}
	if len(o.cfg.Secrets) != 1 || string(o.cfg.Secrets[0]) != secret {
		t.Errorf("secrets %q, want the enrollment's", o.cfg.Secrets)
	}
	testenv.Equal(t, "address", o.cfg.Interfaces[0].Addresses[0].String(), "10.128.3.1/24")
	testenv.Equal(t, "tls", o.cfg.TLS.Mode, agent.TLSAuto)
	o, err = loadOptions(append(base, "--tls", "off", "--address", "10.9.0.1/24"), envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "tls off", o.cfg.TLS.Mode, agent.TLSOff)
	testenv.Equal(t, "given address", o.cfg.Interfaces[0].Addresses[0].String(), "10.9.0.1/24")

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOptions(base, envOf(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("enrollment readable by others: %v", err)
	}
}

// writeConfigFile is a valid one-interface --config file.
func writeConfigFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "agent.json")
	if err := os.WriteFile(path, []byte(`{"interfaces":[{"name":"wg0","listen_port":51820}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
