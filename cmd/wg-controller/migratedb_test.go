package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// TestMigrateDBAndServeOnPostgres moves a SQLite install with a real
// agent's node and a peer into PostgreSQL with migrate-db, refuses to copy
// twice into the same database, serves the install from PostgreSQL (the
// peer's config carries its private key and the interface's public key,
// read from the agent with the node's secret: every sealed value still
// opens), and moves it back into a new data directory.
func TestMigrateDBAndServeOnPostgres(t *testing.T) {
	const password = "a-long-enough-password"
	cluster := pgtest.Require(t)
	ctx := context.Background()
	dir := t.TempDir()
	agent := agenttest.Start(t, agenttest.Options{})
	peerID, priv := addPeer(t, dir, nil, agent.URL, agent.Secret)
	pgURL := cluster.NewDatabase(t)
	vars := map[string]string{"WG_CONTROLLER_ADMIN_PASSWORD": password}
	env := func(k string) string { return vars[k] }

	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"migrate-db", "--from", dir, "--to", pgURL}, env, &stdout, &stderr); err != nil {
		t.Fatalf("migrate-db: %v\n%s", err, stderr.String())
	}
	for _, line := range []string{"nodes 1\n", "peers 1\n", "ip_allocations 1\n", "meta 1\n"} {
		if !strings.Contains(stdout.String(), line) {
			t.Errorf("migrate-db stdout lacks %q:\n%s", line, stdout.String())
		}
	}
	err := run(ctx, []string{"migrate-db", "--from", dir, "--to", pgURL}, env, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second migrate-db into the same database = %v, want a refusal", err)
	}

	// serve on PostgreSQL, the master key from the data directory.
	addr := freeAddr(t)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	vars["WG_CONTROLLER_DATABASE_URL"] = pgURL
	go func() {
		done <- run(sctx, []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error"}, env, io.Discard, io.Discard)
	}()
	waitForListen(t, addr)
	hc := login(t, addr, password)
	resp, err := hc.Get("http://" + addr + "/api/peers/" + strconv.FormatInt(peerID, 10) + "/config")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "PrivateKey = "+priv.String()) {
		t.Fatalf("peer config served from PostgreSQL: %d, private key present: %v", resp.StatusCode, strings.Contains(string(body), priv.String()))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	delete(vars, "WG_CONTROLLER_DATABASE_URL")

	// And back, into a new data directory, the key from the environment.
	key, err := os.ReadFile(filepath.Join(dir, controller.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	vars["WG_CONTROLLER_MASTER_KEY"] = base64.StdEncoding.EncodeToString(key)
	dir2 := filepath.Join(t.TempDir(), "back")
	stdout.Reset()
	if err := run(ctx, []string{"migrate-db", "--from", pgURL, "--to", dir2}, env, &stdout, &stderr); err != nil {
		t.Fatalf("migrate-db back: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "users 1\n") {
		t.Errorf("migrate-db back: the admin user made by serve is missing:\n%s", stdout.String())
	}
	st, err := controller.OpenStore(ctx, dir2, "", key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p, err := st.GetPeer(ctx, peerID)
	if err != nil || p.PrivateKey == nil || *p.PrivateKey != priv {
		t.Fatalf("peer after the way back: %+v, %v", p, err)
	}
}

func TestMigrateDBRefuses(t *testing.T) {
	env := func(string) string { return "" }
	tests := map[string]struct {
		args []string
		want string
	}{
		"no from":    {[]string{"migrate-db", "--to", t.TempDir()}, "--from and --to are required"},
		"no key":     {[]string{"migrate-db", "--from", t.TempDir(), "--to", t.TempDir()}, "no master key"},
		"bad option": {[]string{"migrate-db", "--form", "x"}, "form"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := run(context.Background(), tt.args, env, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%v = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}
