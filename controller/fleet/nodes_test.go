package fleet

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/store"
)

func TestCreateNodeValidation(t *testing.T) {
	tests := []struct {
		field  string
		modify func(*NodeInput)
	}{
		{"name", func(in *NodeInput) { in.Name = nil }},
		{"name", func(in *NodeInput) { in.Name = ptr("   ") }},
		{"name", func(in *NodeInput) { in.Name = ptr(strings.Repeat("n", 65)) }},
		{"name", func(in *NodeInput) { in.Name = ptr("two\nlines") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = nil }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("ftp://node.example.net") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("node.example.net:8443") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("http://") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("https://admin:pw@node.example.net") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("https://node.example.net/?x=1") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("https://node.example.net/#frag") }},
		{"agent_url", func(in *NodeInput) { in.AgentURL = ptr("https://node.example.net:99999") }},
		{"auth_type", func(in *NodeInput) { in.AuthType = ptr("basic") }},
		{"secret", func(in *NodeInput) { in.Secret = nil }},
		{"secret", func(in *NodeInput) { in.Secret = ptr("") }},
		{"secret", func(in *NodeInput) { in.Secret = ptr("short-secret") }},
		{"secret", func(in *NodeInput) { in.Secret = ptr("change-me-in-production") }},
		{"wg_interface", func(in *NodeInput) { in.WGInterface = ptr("wg 0") }},
		{"wg_interface", func(in *NodeInput) { in.WGInterface = ptr("wg/0") }},
		{"wg_interface", func(in *NodeInput) { in.WGInterface = ptr("sixteen-chars-xx") }},
		{"wg_interface", func(in *NodeInput) { in.WGInterface = ptr("..") }},
		{"endpoint", func(in *NodeInput) { in.Endpoint = ptr("vpn.example.net") }},
		{"endpoint", func(in *NodeInput) { in.Endpoint = ptr("vpn.example.net:0") }},
		{"endpoint", func(in *NodeInput) { in.Endpoint = ptr("vpn.example.net:65536") }},
		{"endpoint", func(in *NodeInput) { in.Endpoint = ptr("2001:db8::1:51820") }},
		{"ip_pool_cidr", func(in *NodeInput) { in.IPPool = nil }},
		{"ip_pool_cidr", func(in *NodeInput) { in.IPPool = ptr("10.8.0.1/24") }},
		{"ip_pool_cidr", func(in *NodeInput) { in.IPPool = ptr("10.8.0.0/31") }},
		{"ip_pool_cidr", func(in *NodeInput) { in.IPPool = ptr("fd00:8::/64") }},
		{"ip_pool_cidr", func(in *NodeInput) { in.IPPool = ptr("ten-eight") }},
		{"ip_pool6_cidr", func(in *NodeInput) { in.IPPool6 = ptr("10.9.0.0/24") }},
		{"ip_pool6_cidr", func(in *NodeInput) { in.IPPool6 = ptr("fd00:8::1/64") }},
		{"ip_pool6_cidr", func(in *NodeInput) { in.IPPool6 = ptr("fd00:8::/127") }},
		{"dns", func(in *NodeInput) { in.DNS = ptr("1.1.1") }},
		{"dns", func(in *NodeInput) { in.DNS = ptr("dns.example.net") }},
		{"dns", func(in *NodeInput) { in.DNS = ptr("1.1.1.1,") }},
		{"weight", func(in *NodeInput) { in.Weight = ptr(-1) }},
		{"max_peers", func(in *NodeInput) { in.MaxPeers = ptr(-1) }},
		{"drift_policy", func(in *NodeInput) { in.DriftPolicy = ptr("fix") }},
		{"tls_fingerprint", func(in *NodeInput) { in.TLSFingerprint = ptr("abc") }},
		{"tls_fingerprint", func(in *NodeInput) { in.TLSFingerprint = ptr(strings.Repeat("0", 64)) }},
		{"tls_fingerprint", func(in *NodeInput) {
			in.AgentURL = ptr("http://n1.example.net:8080")
			in.TLSFingerprint = ptr(strings.Repeat("ab", 32))
		}},
	}
	e := newEnv(t)
	for _, tt := range tests {
		in := nodeIn("n1")
		tt.modify(&in)
		_, err := e.svc.CreateNode(context.Background(), actor, in)
		wantField(t, err, tt.field)
		if strings.Contains(err.Error(), "secret-of-n1") {
			t.Errorf("error %q quotes the secret", err)
		}
	}
	nodes, err := e.svc.ListNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 0 || len(e.audit(t)) != 0 || len(e.syncer.take()) != 0 {
		t.Fatalf("refused creates wrote something: %d nodes, %d audit entries", len(nodes), len(e.audit(t)))
	}
}

func TestPoolMessages(t *testing.T) {
	tests := []struct {
		field, value, want string
	}{
		{"ip_pool_cidr", "10.99.0.0/33", `"10.99.0.0/33" is not a valid IPv4 CIDR (like 10.8.0.0/24)`},
		{"ip_pool_cidr", "ten-eight", `"ten-eight" is not a valid IPv4 CIDR (like 10.8.0.0/24)`},
		{"ip_pool_cidr", "10.8.0.0", `"10.8.0.0" is not a valid IPv4 CIDR (like 10.8.0.0/24)`},
		{"ip_pool_cidr", "fd00:8::/64", `"fd00:8::/64" is an IPv6 CIDR, not IPv4 (like 10.8.0.0/24); an IPv6 pool goes in ip_pool6_cidr`},
		{"ip_pool_cidr", "10.8.0.1/24", "10.8.0.1/24 has host bits set; did you mean 10.8.0.0/24?"},
		{"ip_pool_cidr", "10.8.0.0/31", "10.8.0.0/31 is too small for a pool: use a /30 or larger (like 10.8.0.0/24)"},
		{"ip_pool_cidr", "", "is required: the IPv4 pool of peer addresses (like 10.8.0.0/24)"},
		{"ip_pool6_cidr", "fd00:8::/129", `"fd00:8::/129" is not a valid IPv6 CIDR (like fd00:8::/64)`},
		{"ip_pool6_cidr", "fe80::%eth0/64", `"fe80::%eth0/64" is not a valid IPv6 CIDR (like fd00:8::/64)`},
		{"ip_pool6_cidr", "10.9.0.0/24", `"10.9.0.0/24" is an IPv4 CIDR, not IPv6 (like fd00:8::/64); an IPv4 pool goes in ip_pool_cidr`},
		{"ip_pool6_cidr", "::ffff:10.9.0.0/120", `"::ffff:10.9.0.0/120" is an IPv4-mapped IPv6 prefix; an IPv4 pool goes in ip_pool_cidr (like 10.8.0.0/24)`},
		{"ip_pool6_cidr", "fd00:8::1/64", "fd00:8::1/64 has host bits set; did you mean fd00:8::/64?"},
		{"ip_pool6_cidr", "fd00:8::/127", "fd00:8::/127 is too small for a pool: use a /126 or larger (like fd00:8::/64)"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.field+" "+tt.value, func(t *testing.T) {
			in := nodeIn("n1")
			if tt.field == "ip_pool_cidr" {
				in.IPPool = ptr(tt.value)
			} else {
				in.IPPool6 = ptr(tt.value)
			}
			_, err := e.svc.CreateNode(context.Background(), actor, in)
			wantField(t, err, tt.field)
			var ve *ValidationError
			errors.As(err, &ve)
			if ve.Message != tt.want {
				t.Fatalf("message %q, want %q", ve.Message, tt.want)
			}
		})
	}
}

func TestCreateNode(t *testing.T) {
	e := newEnv(t)
	in := nodeIn("n1")
	in.DNS = ptr(" 1.1.1.1,2606:4700:4700::1111 ")
	v := e.createNode(t, in)
	if v.ID == 0 || v.Name != "n1" || !v.SecretSet || !v.Enabled || v.WGInterface != "wg0" || v.Weight != store.DefaultWeight ||
		v.DriftPolicy != "repair" || v.AuthType != "hmac" || v.IPPool != "10.8.0.0/24" || v.IPPool6 != "fd00:8::/64" ||
		v.DNS != "1.1.1.1, 2606:4700:4700::1111" || v.DesiredGeneration != 1 || v.Status != "unknown" {
		t.Fatalf("created node view %+v", v)
	}
	if js := jsonString(t, v); strings.Contains(js, *in.Secret) || !strings.Contains(js, `"secret_set":true`) {
		t.Fatalf("node JSON %s: holds the secret or lacks secret_set", js)
	}
	if got := e.node(t, v.ID); string(got.Secret) != *in.Secret {
		t.Fatalf("stored secret differs")
	}
	wantTriggers(t, e.syncer, v.ID)
	a := e.lastAudit(t, "node.create")
	if a.Actor != string(actor) || a.TargetType != "node" || a.TargetID != "1" || strings.Contains(string(a.Details), *in.Secret) {
		t.Fatalf("audit entry %+v", a)
	}

	_, err := e.svc.CreateNode(context.Background(), actor, nodeIn("N1"))
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate name (other case): %v, want ErrConflict", err)
	}
	if _, err := e.svc.CreateNode(context.Background(), "", nodeIn("n2")); err == nil {
		t.Fatal("CreateNode without an actor succeeded")
	}
}

func TestUpdateNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v := e.createNode(t, nodeIn("n1"))
	secret := string(e.node(t, v.ID).Secret)
	e.syncer.take()

	// Omitted and empty secrets keep the stored one.
	for i, s := range []*string{nil, ptr("")} {
		endpoint := []string{"new.example.net:41", "new.example.net:42"}[i]
		got, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Secret: s, Endpoint: &endpoint, Weight: ptr(5)})
		if err != nil {
			t.Fatal(err)
		}
		if string(e.node(t, v.ID).Secret) != secret || !got.SecretSet {
			t.Fatal("update without a secret changed it")
		}
	}
	got := e.node(t, v.ID)
	if got.Weight != 5 || got.DesiredGeneration != 3 {
		t.Fatalf("after two updates: weight %d, generation %d; want 5 and 3", got.Weight, got.DesiredGeneration)
	}
	wantTriggers(t, e.syncer, v.ID, v.ID)

	newSecret := "a-brand-new-secret-0123456789"
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Secret: &newSecret}); err != nil {
		t.Fatal(err)
	}
	if string(e.node(t, v.ID).Secret) != newSecret {
		t.Fatal("new secret not stored")
	}
	a := e.lastAudit(t, "node.update")
	var details struct{ Changed []string }
	if err := json.Unmarshal(a.Details, &details); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(details.Changed, []string{"secret"}) || strings.Contains(string(a.Details), newSecret) {
		t.Fatalf("audit details %s: want changed [secret] without the secret", a.Details)
	}

	// An update that changes nothing writes nothing.
	before := e.node(t, v.ID)
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Name: ptr("n1"), Weight: ptr(5)}); err != nil {
		t.Fatal(err)
	}
	if after := e.node(t, v.ID); after.DesiredGeneration != before.DesiredGeneration {
		t.Fatal("a no-op update bumped the generation")
	}

	// A refused update changes nothing.
	e.syncer.take()
	before = e.node(t, v.ID)
	for field, in := range map[string]NodeInput{
		"ip_pool_cidr": {IPPool: ptr("10.8.0.0/33")},
		"secret":       {Secret: ptr("short")},
		"weight":       {Name: ptr("renamed"), Weight: ptr(-3)},
		"wg_interface": {WGInterface: ptr("")},
	} {
		_, err := e.svc.UpdateNode(ctx, actor, v.ID, in)
		wantField(t, err, field)
	}
	if after := e.node(t, v.ID); after.Name != before.Name || after.DesiredGeneration != before.DesiredGeneration {
		t.Fatal("a refused update wrote something")
	}
	wantTriggers(t, e.syncer)

	if _, err := e.svc.UpdateNode(ctx, actor, 99, NodeInput{Weight: ptr(1)}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of an unknown node: %v", err)
	}

	// With peers, the pool may only change to one that holds their addresses.
	e.createPeer(t, v.ID, PeerInput{})
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{IPPool: ptr("10.9.0.0/24")}); !errors.Is(err, store.ErrNodeHasPeers) {
		t.Fatalf("moving the pool away from a peer: %v, want ErrNodeHasPeers", err)
	}
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{IPPool: ptr("10.8.0.0/16")}); err != nil {
		t.Fatalf("growing the pool: %v", err)
	}
}

func TestToggleNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v := e.createNode(t, nodeIn("n1"))
	e.syncer.take()
	got, err := e.svc.ToggleNode(ctx, actor, v.ID, nil)
	if err != nil || got.Enabled || got.Status != "disabled" || got.DesiredGeneration != 2 {
		t.Fatalf("flip: %+v, %v", got, err)
	}
	got, err = e.svc.ToggleNode(ctx, actor, v.ID, ptr(false))
	if err != nil || got.Enabled || got.DesiredGeneration != 2 {
		t.Fatalf("setting the current value: %+v, %v", got, err)
	}
	got, err = e.svc.ToggleNode(ctx, actor, v.ID, nil)
	if err != nil || !got.Enabled || got.Status != "unknown" || got.DesiredGeneration != 3 {
		t.Fatalf("flip back: %+v, %v", got, err)
	}
	wantTriggers(t, e.syncer, v.ID, v.ID)
	if e.lastAudit(t, "node.disable").TargetID != "1" || e.lastAudit(t, "node.enable").TargetID != "1" {
		t.Fatal("toggles not audited")
	}
	if _, err := e.svc.ToggleNode(ctx, actor, 42, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("toggle of an unknown node: %v", err)
	}
}

// allocations counts a node's address rows straight from the database file.
func allocations(t *testing.T, path string, nodeID int64) int {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM ip_allocations WHERE node_id = ?", nodeID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeleteNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	empty := e.createNode(t, nodeIn("empty"))
	full := e.createNode(t, nodeIn("full"))
	for range 3 {
		e.createPeer(t, full.ID, PeerInput{})
	}
	e.syncer.take()

	if err := e.svc.DeleteNode(ctx, actor, empty.ID, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.GetNode(ctx, empty.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted node still there: %v", err)
	}

	err := e.svc.DeleteNode(ctx, actor, full.ID, false)
	if !errors.Is(err, store.ErrNodeHasPeers) {
		t.Fatalf("delete of a node with peers: %v, want ErrNodeHasPeers", err)
	}
	if peers, _ := e.svc.ListPeers(ctx, full.ID); len(peers) != 3 || allocations(t, e.path, full.ID) != 6 {
		t.Fatalf("refused delete removed peers or addresses")
	}

	if err := e.svc.DeleteNode(ctx, actor, full.ID, true); err != nil {
		t.Fatal(err)
	}
	if all, err := e.svc.ListAllPeers(ctx); err != nil || len(all) != 0 {
		t.Fatalf("force delete left %d peers (%v)", len(all), err)
	}
	if n := allocations(t, e.path, full.ID); n != 0 {
		t.Fatalf("force delete left %d address allocations", n)
	}
	wantTriggers(t, e.syncer, empty.ID, full.ID)
	a := e.lastAudit(t, "node.delete")
	if !strings.Contains(string(a.Details), `"force":true`) || !strings.Contains(string(a.Details), `"peers_removed":3`) {
		t.Fatalf("audit details %s", a.Details)
	}
	if err := e.svc.DeleteNode(ctx, actor, full.ID, true); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

// TestSecretsNotInDatabaseFile reads every file of the database (main,
// WAL, shared memory) and finds no node secret, private key or preshared
// key in clear: neither raw nor in base64.
func TestSecretsNotInDatabaseFile(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	v := e.createNode(t, nodeIn("n1"))
	newSecret := "rotated-secret-for-the-file-check"
	if _, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Secret: &newSecret}); err != nil {
		t.Fatal(err)
	}
	var needles [][]byte
	needles = append(needles, []byte("secret-of-n1-0123456789abcdef"), []byte(newSecret))
	for range 3 {
		p := e.createPeer(t, v.ID, PeerInput{PresharedKey: ptr("auto")})
		sp, err := e.store.GetPeer(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range [][32]byte{*sp.PrivateKey, *sp.PresharedKey} {
			needles = append(needles, k[:], []byte(wgtypes.Key(k).String()))
		}
		if _, _, err := e.svc.PeerConfig(ctx, actor, p.ID); err == nil {
			t.Fatal("config without a node public key succeeded")
		}
	}
	e.setOnline(t, v.ID, "wg0", newKey(t).PublicKey())
	all, _ := e.svc.ListAllPeers(ctx)
	if _, _, err := e.svc.PeerConfig(ctx, actor, all[0].ID); err != nil {
		t.Fatal(err)
	}

	files, err := filepath.Glob(filepath.Join(e.dir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no database files: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range needles {
			if bytes.Contains(data, n) {
				t.Errorf("%s holds secret #%d in clear", filepath.Base(f), i)
			}
		}
	}
}

// TestNodeTLSFingerprint: a pin is taken in an operator's form and shown
// canonical, audited, kept by an update that does not name it, and
// removed by "".
func TestNodeTLSFingerprint(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	want := strings.Repeat("ab", 31) + "cd"
	in := nodeIn("pinned")
	in.AgentURL = ptr("https://127.0.0.1:1")
	in.TLSFingerprint = ptr("SHA256:" + strings.ToUpper(pairs(want)))
	v := e.createNode(t, in)
	if v.TLSFingerprint != want {
		t.Fatalf("tls_fingerprint %q, want %q", v.TLSFingerprint, want)
	}
	if d := string(e.lastAudit(t, "node.create").Details); !strings.Contains(d, want) {
		t.Errorf("node.create audit %s does not name the pin", d)
	}
	v, err := e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{Weight: ptr(7)})
	if err != nil || v.TLSFingerprint != want {
		t.Fatalf("update without the field: %q, %v; want the pin kept", v.TLSFingerprint, err)
	}
	v, err = e.svc.UpdateNode(ctx, actor, v.ID, NodeInput{TLSFingerprint: ptr("")})
	if err != nil || v.TLSFingerprint != "" {
		t.Fatalf("update to \"\": %q, %v; want no pin", v.TLSFingerprint, err)
	}
	var details struct {
		Changed []string `json:"changed"`
	}
	if err := json.Unmarshal(e.lastAudit(t, "node.update").Details, &details); err != nil || !slices.Contains(details.Changed, "tls_fingerprint") {
		t.Fatalf("node.update audit changed %v (%v), want tls_fingerprint", details.Changed, err)
	}
}

// pairs joins the hex digit pairs of h with ":".
func pairs(h string) string {
	var out []string
	for i := 0; i+1 < len(h); i += 2 {
		out = append(out, h[i:i+2])
	}
	return strings.Join(out, ":")
}
