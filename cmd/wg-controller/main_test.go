package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestDemoKeptDataDir: a demo run again on the same --data-dir logs in with
// the same password and brings the same nodes back online.
func TestDemoKeptDataDir(t *testing.T) {
	dir := t.TempDir()
	var passwords, tokens []string
	for run := 0; run < 2; run++ {
		addr := freeAddr(t)
		ctx, cancel := context.WithCancel(context.Background())
		out := &testenv.LogBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- run0(ctx, []string{"demo", "--listen", addr, "--data-dir", dir}, out)
		}()
		password := waitForPassword(t, out)
		passwords = append(passwords, password)
		tokens = append(tokens, regexp.MustCompile(`WG_CONTROLLER_TOKEN=(\S+)`).FindString(out.String()))
		hc := login(t, addr, password)
		waitForFleet(t, hc, addr)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
	}
	if passwords[0] != passwords[1] {
		t.Fatal("the kept demo changed its admin password")
	}
	if tokens[0] == "" || tokens[0] != tokens[1] {
		t.Fatalf("the kept demo's CLI token: %q then %q, want the same", tokens[0], tokens[1])
	}
}

func run0(ctx context.Context, args []string, out io.Writer) error {
	return run(ctx, args, func(string) string { return "" }, out, io.Discard)
}

// TestDemo runs the README's first command in-process: it prints a URL and
// credentials that log in, and the two nodes come online with their peers
// applied.
func TestDemo(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := &testenv.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- run0(ctx, []string{"demo", "--listen", addr}, out) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("demo exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("demo did not stop")
		}
	}()
	password := waitForPassword(t, out)
	if !strings.Contains(out.String(), "http://"+addr+"/") {
		t.Fatalf("demo output has no URL:\n%s", out.String())
	}
	hc := login(t, addr, password)
	waitForFleet(t, hc, addr)
	commands := runDemoHints(t, out.String(), addr)
	// The UI suggests the same commands (GET /api/demo).
	var demo struct {
		Data struct {
			Demo     bool     `json:"demo"`
			Commands []string `json:"commands"`
		}
	}
	get(t, hc, "http://"+addr+"/api/demo", &demo)
	if !demo.Data.Demo || !slices.Equal(demo.Data.Commands, commands) {
		t.Fatalf("GET /api/demo: %+v, want the banner's commands %q", demo.Data, commands)
	}
}

// runDemoHints runs the fleet CLI commands the demo's banner suggests,
// with the environment its export line sets, checks what they did, and
// returns them.
func runDemoHints(t *testing.T, banner, addr string) []string {
	t.Helper()
	_, hints, ok := strings.Cut(banner, "Try next")
	if !ok || !strings.Contains(hints, "in the UI:") {
		t.Fatalf("the demo's banner suggests nothing to try:\n%s", banner)
	}
	env := map[string]string{}
	var commands [][]string
	var lines []string
	for _, line := range strings.Split(hints, "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "in a shell:"))
		switch {
		case strings.HasPrefix(line, "export "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "export ")) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case strings.HasPrefix(line, "wg-controller "):
			commands = append(commands, strings.Fields(strings.TrimPrefix(line, "wg-controller ")))
			lines = append(lines, line)
		}
	}
	if env["WG_CONTROLLER_URL"] != "http://"+addr || env["WG_CONTROLLER_TOKEN"] == "" || len(commands) < 3 {
		t.Fatalf("the demo's hints: environment %v, commands %q", env, commands)
	}
	f := &fleetCLI{t: t, env: env, token: env["WG_CONTROLLER_TOKEN"]}
	for _, args := range commands {
		f.ok(args...)
	}
	// The last command lists the peers of the node the phone moved to.
	var peers []fleet.PeerView
	f.okJSON(&peers, commands[len(commands)-1]...)
	found := false
	for _, p := range peers {
		found = found || p.Name == "my-phone"
	}
	if !found {
		t.Fatalf("after the hints, the second node's peers are %+v: no my-phone", peers)
	}
	return lines
}

// waitForPassword reads the admin password the demo prints.
func waitForPassword(t *testing.T, out *testenv.LogBuffer) string {
	t.Helper()
	pwRE := regexp.MustCompile(`password:\s+(\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := pwRE.FindStringSubmatch(out.String()); m != nil {
			return m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed no credentials:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// login signs in as admin and returns a client holding the session.
func login(t *testing.T, addr, password string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := hc.Post("http://"+addr+"/api/login", "application/json",
		strings.NewReader(`{"username":"admin","password":"`+password+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login with the printed password: %d", resp.StatusCode)
	}
	return hc
}

// waitForFleet waits until both demo nodes are online with their four
// peers applied.
func waitForFleet(t *testing.T, hc *http.Client, addr string) {
	t.Helper()
	type node struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	}
	type peer struct {
		SyncState string `json:"sync_state"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var nodes struct{ Data []node }
		var peers struct{ Data []peer }
		get(t, hc, "http://"+addr+"/api/nodes", &nodes)
		get(t, hc, "http://"+addr+"/api/peers", &peers)
		online, applied := 0, 0
		for _, n := range nodes.Data {
			if n.Status == "online" {
				online++
			}
		}
		for _, p := range peers.Data {
			if p.SyncState == "applied" {
				applied++
			}
		}
		if len(nodes.Data) == 2 && online == 2 && len(peers.Data) == 4 && applied == 4 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo fleet not ready: %+v %+v", nodes.Data, peers.Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(t *testing.T, hc *http.Client, url string, out any) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
}

// TestTokenCommands: `token create` prints the token alone on stdout, it
// authenticates against a controller on the same data directory, `token
// list` shows it and `token revoke` ends it.
func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	env := func(k string) string {
		if k == "WG_CONTROLLER_ADMIN_PASSWORD" {
			return "a-long-enough-password"
		}
		return ""
	}
	ctx := context.Background()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, []string{"token", "create", "--name", "ci", "--expires", "720h", "--data-dir", dir}, env, &stdout, &stderr); err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr.String())
	}
	wantExpiry := time.Now().Add(720 * time.Hour).UTC()
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != 1 || len(lines[0]) < 20 {
		t.Fatalf("stdout must be the token alone, got %q", stdout.String())
	}
	token := lines[0]
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the token also went to stderr")
	}

	addr := freeAddr(t)
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- run(sctx, []string{"serve", "--listen", addr, "--data-dir", dir, "--log-level", "error"}, env, io.Discard, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	call := func() int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/nodes", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	deadline := time.Now().Add(30 * time.Second)
	for call() != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the created token never authenticated")
		}
		time.Sleep(100 * time.Millisecond)
	}

	stdout.Reset()
	if err := run(ctx, []string{"token", "list", "--data-dir", dir}, env, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), token) || !strings.Contains(stdout.String(), "ci") {
		t.Fatalf("token list:\n%s", stdout.String())
	}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Scan()
	if header := strings.Fields(sc.Text()); !slices.Contains(header, "EXPIRES") || !slices.Contains(header, "USED") {
		t.Fatalf("token list header %q: want LAST USED and EXPIRES columns", sc.Text())
	}
	sc.Scan()
	// ID NAME PREFIX ROLE CREATED LAST-USED EXPIRES REVOKED
	row := strings.Fields(sc.Text())
	if len(row) != 8 {
		t.Fatalf("token list row %q: want 8 columns", sc.Text())
	}
	if row[3] != "admin" {
		t.Errorf("role %q: a token made without --role is an admin's", row[3])
	}
	if used, err := time.Parse(time.RFC3339, row[5]); err != nil || time.Since(used) > time.Hour {
		t.Errorf("last used %q: want the time of the call above", row[5])
	}
	if exp, err := time.Parse(time.RFC3339, row[6]); err != nil || exp.Sub(wantExpiry).Abs() > time.Minute {
		t.Errorf("expires %q: want about %s", row[6], wantExpiry.Format(time.RFC3339))
	}
	id := row[0]
	if err := run(ctx, []string{"token", "revoke", "--id", id, "--data-dir", dir}, env, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := call(); got != http.StatusUnauthorized {
		t.Fatalf("revoked token: %d, want 401", got)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	for name, args := range map[string][]string{
		"bad listen":   {"serve", "--listen", "nowhere"},
		"short poll":   {"serve", "--poll-interval", "1ms", "--data-dir", t.TempDir()},
		"unknown":      {"frobnicate"},
		"bad format":   {"serve", "--log-format", "xml", "--data-dir", t.TempDir()},
		"token noname": {"token", "create", "--data-dir", t.TempDir()},
		"bad database": {"serve", "--database", "mysql://db/wgfleet", "--data-dir", t.TempDir()},
		"token bad db": {"token", "list", "--database", "/var/lib/db", "--data-dir", t.TempDir()},
	} {
		t.Run(name, func(t *testing.T) {
			if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
