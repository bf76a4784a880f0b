package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/internal/testenv/pgtest"
)

// replicaPoll is the replicas' poll interval in these tests: the leader
// must be replaced, and drift repaired, within two of them.
const replicaPoll = 5 * time.Second

// replicaSet is wg-controller serve processes (the real binary) on one
// PostgreSQL database, with the same master key, and an API token.
type replicaSet struct {
	t     testing.TB
	bin   string
	env   []string
	vars  map[string]string
	token string
}

// replicaProc is one running replica.
type replicaProc struct {
	name, addr string
	cmd        *exec.Cmd
	logs       *testenv.LogBuffer
	exited     chan struct{}
}

// buildController builds this command's binary into a temporary
// directory.
func buildController(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wg-controller")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func newReplicaSet(t testing.TB, bin, dsn string) *replicaSet {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	vars := map[string]string{
		"WG_CONTROLLER_DATABASE_URL":   dsn,
		"WG_CONTROLLER_MASTER_KEY":     hex.EncodeToString(key),
		"WG_CONTROLLER_ADMIN_PASSWORD": "replica-test-password",
		"WG_CONTROLLER_POLL_INTERVAL":  replicaPoll.String(),
		"WG_CONTROLLER_LOG_LEVEL":      "debug",
	}
	rs := &replicaSet{t: t, bin: bin, vars: vars}
	for k, v := range vars {
		rs.env = append(rs.env, k+"="+v)
	}
	return rs
}

// start runs a replica named name at addr ("" for a free port).
func (rs *replicaSet) start(name, addr string) *replicaProc {
	rs.t.Helper()
	if addr == "" {
		addr = freeAddr(rs.t)
	}
	p := &replicaProc{name: name, addr: addr, logs: &testenv.LogBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(rs.bin, "serve", "--listen", addr, "--data-dir", rs.t.TempDir(), "--replica-name", name)
	p.cmd.Env = rs.env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		rs.t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.exited)
	}()
	rs.t.Cleanup(func() {
		p.kill()
		if rs.t.Failed() {
			rs.t.Logf("replica %s's log:\n%s", name, p.logs.String())
		}
	})
	waitForListen(rs.t, addr)
	if rs.token == "" {
		var out bytes.Buffer
		env := func(k string) string { return rs.vars[k] }
		if err := run(context.Background(), []string{"token", "create", "--name", "replicas", "--data-dir", rs.t.TempDir()}, env, &out, io.Discard); err != nil {
			rs.t.Fatal(err)
		}
		rs.token = strings.TrimSpace(out.String())
	}
	return p
}

// kill kills the replica with SIGKILL and waits for it to exit.
func (p *replicaProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// call sends an API request to replica p with the token and decodes the
// envelope's data into out.
func (rs *replicaSet) call(p *replicaProc, method, path string, in, out any) (int, string) {
	rs.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+p.addr+path, body)
	if err != nil {
		rs.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+rs.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		var env struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(raw, &env); err != nil || json.Unmarshal(env.Data, out) != nil {
			rs.t.Fatalf("%s %s: %s", method, path, raw)
		}
	}
	return resp.StatusCode, string(raw)
}

type replicaStatus struct {
	Replica string `json:"replica"`
	Leader  string `json:"leader"`
	Leading bool   `json:"leading"`
}

func (rs *replicaSet) status(p *replicaProc) (replicaStatus, bool) {
	var st replicaStatus
	code, _ := rs.call(p, "GET", "/api/status", nil, &st)
	return st, code == http.StatusOK
}

// leader waits until exactly one of ps leads and all of them say so, and
// returns it.
func (rs *replicaSet) leader(within time.Duration, ps ...*replicaProc) *replicaProc {
	rs.t.Helper()
	var lead *replicaProc
	eventuallyWithin(rs.t, within, "one replica leads and every one says which", func() bool {
		lead = nil
		for _, p := range ps {
			st, ok := rs.status(p)
			if !ok {
				return false
			}
			if st.Leading {
				if lead != nil {
					rs.t.Fatalf("%s and %s both lead", lead.name, p.name)
				}
				lead = p
			}
		}
		if lead == nil {
			return false
		}
		for _, p := range ps {
			if st, _ := rs.status(p); st.Leader != lead.name {
				return false
			}
		}
		return true
	})
	return lead
}

type replicaPeer struct {
	ID        int64  `json:"id"`
	PublicKey string `json:"public_key"`
	Address4  string `json:"address4"`
}

// createPeers creates n peers on node through p, in parallel by 3.
func (rs *replicaSet) createPeers(p *replicaProc, node int64, prefix string, n int) []replicaPeer {
	rs.t.Helper()
	var (
		mu    sync.Mutex
		peers []replicaPeer
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	for range 3 {
		wg.Go(func() {
			for i := range next {
				var pr replicaPeer
				if code, raw := rs.call(p, "POST", fmt.Sprintf("/api/nodes/%d/peers", node), map[string]any{"name": fmt.Sprintf("%s-%d", prefix, i)}, &pr); code != http.StatusCreated {
					rs.t.Errorf("create peer %s-%d on %s: %d %s", prefix, i, p.name, code, raw)
					continue
				}
				mu.Lock()
				peers = append(peers, pr)
				mu.Unlock()
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return peers
}

func eventuallyWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustKey parses a peer's public key.
func mustKey(t testing.TB, s string) wgtypes.Key {
	t.Helper()
	k, err := agentapi.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// agentKeys is the set of peer keys on the agent's interface.
func agentKeys(t testing.TB, a *agenttest.Agent) map[string]bool {
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		return nil
	}
	keys := map[string]bool{}
	for _, p := range d.Peers {
		keys[p.PublicKey] = true
	}
	return keys
}

func allOn(t testing.TB, a *agenttest.Agent, peers []replicaPeer) bool {
	keys := agentKeys(t, a)
	for _, p := range peers {
		if !keys[p.PublicKey] {
			return false
		}
	}
	return true
}

// TestReplicas runs real wg-controller processes (the binary, built here)
// on a throwaway PostgreSQL cluster with real agents.
func TestReplicas(t *testing.T) {
	cluster := pgtest.Require(t)
	bin := buildController(t)
	t.Run("kill -9 of the leader", func(t *testing.T) { testKillTheLeader(t, newReplicaSet(t, bin, cluster.NewDatabase(t))) })
	t.Run("restart mid-reconcile", func(t *testing.T) { testRestartMidReconcile(t, newReplicaSet(t, bin, cluster.NewDatabase(t))) })
}

// testKillTheLeader: two wg-controller processes on one
// PostgreSQL database with a real agent. Peers created on both at once
// all reach the agent with distinct addresses. The leader is killed with
// SIGKILL; meanwhile a peer is removed from the agent behind the
// controllers' back and another is created on the survivor. The survivor
// leads within two poll intervals, puts the removed peer back and applies
// the new one; nothing is lost and no address is given twice. The killed
// replica, started again, follows.
func testKillTheLeader(t *testing.T, rs *replicaSet) {
	a := rs.start("ctl-a", "")
	b := rs.start("ctl-b", "")
	lead := rs.leader(2*replicaPoll, a, b)
	follower := map[*replicaProc]*replicaProc{a: b, b: a}[lead]
	t.Logf("%s leads", lead.name)

	ag := agenttest.Start(t, agenttest.Options{})
	var node struct {
		ID int64 `json:"id"`
	}
	if code, raw := rs.call(follower, "POST", "/api/nodes", map[string]any{
		"name": "edge", "agent_url": ag.URL, "secret": ag.Secret, "wg_interface": ag.Iface,
		"endpoint": fmt.Sprintf("127.0.0.1:%d", ag.Tunnel(ag.Iface).ListenPort()), "ip_pool_cidr": "10.62.0.0/24", "enabled": true,
	}, &node); code != http.StatusCreated {
		t.Fatalf("create node: %d %s", code, raw)
	}
	var peers []replicaPeer
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range []*replicaProc{a, b} {
		wg.Go(func() {
			got := rs.createPeers(p, node.ID, p.name, 12)
			mu.Lock()
			peers = append(peers, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(peers) != 24 {
		t.Fatalf("%d peers created, want 24", len(peers))
	}
	eventuallyWithin(t, 2*replicaPoll, "every peer on the agent", func() bool { return allOn(t, ag, peers) })

	t.Logf("kill -9 %s", lead.name)
	killed := time.Now()
	lead.kill()
	victim := peers[0]
	if err := ag.Client(t).DeletePeer(context.Background(), ag.Iface, mustKey(t, victim.PublicKey)); err != nil {
		t.Fatal(err)
	}
	late := rs.createPeers(follower, node.ID, "late", 1)
	peers = append(peers, late...)

	rs.leader(2*replicaPoll, follower)
	t.Logf("%s leads %v after the kill", follower.name, time.Since(killed).Round(time.Millisecond))
	eventuallyWithin(t, 2*replicaPoll-time.Since(killed), "the removed peer back and the new one applied", func() bool {
		return allOn(t, ag, peers)
	})
	t.Logf("drift repaired %v after the kill", time.Since(killed).Round(time.Millisecond))

	var listed []replicaPeer
	if code, raw := rs.call(follower, "GET", fmt.Sprintf("/api/nodes/%d/peers", node.ID), nil, &listed); code != http.StatusOK {
		t.Fatalf("list peers: %d %s", code, raw)
	}
	if len(listed) != len(peers) {
		t.Fatalf("%d peers listed, want %d", len(listed), len(peers))
	}
	addrs := map[string]bool{}
	for _, p := range listed {
		if addrs[p.Address4] {
			t.Fatalf("address %s given twice", p.Address4)
		}
		addrs[p.Address4] = true
	}

	t.Logf("%s again, at its address: it follows", lead.name)
	again := rs.start(lead.name, lead.addr)
	if got := rs.leader(2*replicaPoll, again, follower); got != follower {
		t.Fatalf("%s leads after its restart", got.name)
	}
}

// holdingProxy forwards requests to an agent; once armed, it holds the
// first write (any method but GET) until released, and then forwards it.
type holdingProxy struct {
	url     string
	mu      sync.Mutex
	armed   bool
	arrived chan struct{} // closed when a write is held
	release chan struct{}
}

func startHoldingProxy(t *testing.T, target string) *holdingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	hp := &holdingProxy{arrived: make(chan struct{}), release: make(chan struct{})}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hp.mu.Lock()
		hold := hp.armed && r.Method != http.MethodGet
		if hold {
			hp.armed = false
			close(hp.arrived)
		}
		hp.mu.Unlock()
		if hold {
			<-hp.release
			// The caller is gone; the write still reaches the agent, as
			// one sent just before a crash would.
			r = r.WithContext(context.WithoutCancel(r.Context()))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-hp.release:
		default:
			close(hp.release)
		}
	})
	hp.url = srv.URL
	return hp
}

func (hp *holdingProxy) arm() {
	hp.mu.Lock()
	hp.armed = true
	hp.mu.Unlock()
}

type replicaNode struct {
	ID                int64  `json:"id"`
	Status            string `json:"status"`
	DesiredGeneration int64  `json:"desired_generation"`
	AckedGeneration   int64  `json:"acked_generation"`
}

// testRestartMidReconcile: one replica's write to an agent is held by a
// proxy while the replica is killed with SIGKILL; the held write then
// reaches the agent. The replica, started again, finishes the work: every
// peer on the agent and the node's generation acknowledged.
func testRestartMidReconcile(t *testing.T, rs *replicaSet) {
	c := rs.start("ctl-c", "")
	rs.leader(2*replicaPoll, c)
	ag := agenttest.Start(t, agenttest.Options{})
	hp := startHoldingProxy(t, ag.URL)
	var node replicaNode
	if code, raw := rs.call(c, "POST", "/api/nodes", map[string]any{
		"name": "slow-edge", "agent_url": hp.url, "secret": ag.Secret, "wg_interface": ag.Iface,
		"endpoint": fmt.Sprintf("127.0.0.1:%d", ag.Tunnel(ag.Iface).ListenPort()), "ip_pool_cidr": "10.63.0.0/24", "enabled": true,
	}, &node); code != http.StatusCreated {
		t.Fatalf("create node: %d %s", code, raw)
	}
	eventuallyWithin(t, 2*replicaPoll, "the node online", func() bool {
		var n replicaNode
		rs.call(c, "GET", fmt.Sprintf("/api/nodes/%d", node.ID), nil, &n)
		return n.Status == "online"
	})

	hp.arm()
	peers := rs.createPeers(c, node.ID, "mid", 6)
	if len(peers) != 6 {
		t.Fatalf("%d peers created, want 6", len(peers))
	}
	select {
	case <-hp.arrived:
	case <-time.After(2 * replicaPoll):
		t.Fatal("no write to the agent")
	}
	t.Log("a write to the agent is held: kill -9 the replica")
	c.kill()
	close(hp.release)

	again := rs.start("ctl-c", c.addr)
	rs.leader(2*replicaPoll, again)
	eventuallyWithin(t, 2*replicaPoll, "every peer on the agent and the generation acknowledged", func() bool {
		var n replicaNode
		if code, _ := rs.call(again, "GET", fmt.Sprintf("/api/nodes/%d", node.ID), nil, &n); code != http.StatusOK {
			return false
		}
		return allOn(t, ag, peers) && n.AckedGeneration == n.DesiredGeneration
	})
	if keys := agentKeys(t, ag); len(keys) != len(peers) {
		t.Fatalf("the agent holds %d peers, want %d", len(keys), len(peers))
	}
}
