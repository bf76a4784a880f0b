package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// TestRekeyCommand: data made under one key, `rekey`, then `serve` on the
// same directory hands out the peer's config with its private key (which
// takes the interface's public key from a real agent, signed with the
// resealed node secret); with
// the key in the environment the new key comes on stdout alone and the
// old key no longer starts the controller.
func TestRekeyCommand(t *testing.T) {
	const password = "a-long-enough-password"
	for _, envKey := range []bool{false, true} {
		t.Run("env key "+strconv.FormatBool(envKey), func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			vars := map[string]string{"WG_CONTROLLER_ADMIN_PASSWORD": password}
			var oldKey []byte
			if envKey {
				oldKey = make([]byte, secretbox.KeySize)
				if _, err := rand.Read(oldKey); err != nil {
					t.Fatal(err)
				}
				vars["WG_CONTROLLER_MASTER_KEY"] = base64.StdEncoding.EncodeToString(oldKey)
			}
			env := func(k string) string { return vars[k] }
			if err := run(ctx, []string{"token", "create", "--name", "ci", "--data-dir", dir}, env, io.Discard, io.Discard); err != nil {
				t.Fatal(err)
			}
			agent := agenttest.Start(t, agenttest.Options{})
			peerID, priv := addPeer(t, dir, oldKey, agent.URL, agent.Secret)

			var stdout, stderr bytes.Buffer
			if err := run(ctx, []string{"rekey", "--data-dir", dir}, env, &stdout, &stderr); err != nil {
				t.Fatalf("rekey: %v\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "resealed 1 node secrets, 1 private keys and 1 preshared keys") {
				t.Fatalf("rekey stderr:\n%s", stderr.String())
			}
			if envKey {
				newKey, err := secretbox.ParseKey(stdout.String())
				if err != nil || bytes.Equal(newKey, oldKey) || strings.Count(stdout.String(), "\n") != 1 {
					t.Fatalf("stdout must be the new key alone: %v", err)
				}
				if strings.Contains(stderr.String(), strings.TrimSpace(stdout.String())) {
					t.Fatal("the new key also went to stderr")
				}
				err = run(ctx, []string{"serve", "--listen", freeAddr(t), "--data-dir", dir}, env, io.Discard, io.Discard)
				if err == nil || !strings.Contains(err.Error(), "master key does not match") {
					t.Fatalf("serve with the old key = %v", err)
				}
				vars["WG_CONTROLLER_MASTER_KEY"] = stdout.String()
			} else if stdout.Len() != 0 {
				t.Fatalf("rekey with the key file wrote %q on stdout", stdout.String())
			}

			addr := freeAddr(t)
			sctx, cancel := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- run(sctx, []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error"}, env, io.Discard, io.Discard)
			}()
			defer func() { cancel(); <-done }()
			waitForListen(t, addr)
			hc := login(t, addr, password)
			resp, err := hc.Get("http://" + addr + "/api/peers/" + strconv.FormatInt(peerID, 10) + "/config")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "PrivateKey = "+priv.String()) {
				t.Fatalf("peer config after rekey: %d, private key present: %v", resp.StatusCode, strings.Contains(string(body), priv.String()))
			}
		})
	}
}

// addPeer adds a node for the agent at agentURL and a peer whose key pair
// the controller holds.
func addPeer(t *testing.T, dir string, key []byte, agentURL, secret string) (int64, wgtypes.Key) {
	t.Helper()
	ctx := context.Background()
	st, err := controller.OpenStore(ctx, dir, "", key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	node, err := st.CreateNode(ctx, storetest.Node("fra1", agentURL, secret))
	if err != nil {
		t.Fatal(err)
	}
	p, priv := storetest.PeerWithKeys(t, st, node.ID, "laptop")
	return p.ID, priv
}

func waitForListen(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/api/nodes")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve never listened on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
