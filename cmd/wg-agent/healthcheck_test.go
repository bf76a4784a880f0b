package main

import (
	"context"
	"io"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestHealthcheckTLS: `wg-agent healthcheck` asks an agent serving
// HTTPS over HTTPS when --tls (or WG_AGENT_TLS) says so, and fails when
// it asks such an agent over plain HTTP.
func TestHealthcheckTLS(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{TLS: agent.TLSConfig{Mode: agent.TLSAuto}})
	ctx := context.Background()
	if err := healthcheck(ctx, []string{"--listen", a.Addr, "--tls", "auto"}, envOf(nil), io.Discard); err != nil {
		t.Errorf("--tls auto: %v", err)
	}
	if err := healthcheck(ctx, []string{"--listen", a.Addr}, envOf(map[string]string{"WG_AGENT_TLS": "auto"}), io.Discard); err != nil {
		t.Errorf("WG_AGENT_TLS=auto: %v", err)
	}
	if err := healthcheck(ctx, []string{"--listen", a.Addr}, envOf(nil), io.Discard); err == nil {
		t.Error("plain HTTP to an HTTPS agent: healthcheck passed")
	}
}
