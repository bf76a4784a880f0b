package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/cli"
)

// cliResult is one run of the command: its output and exit code.
type cliResult struct {
	stdout, stderr string
	code           int
}

// fleetCLI runs wg-controller commands in-process against one controller,
// with its URL and an API token in the environment.
type fleetCLI struct {
	t     *testing.T
	env   map[string]string
	token string
	all   strings.Builder // every output, to check the token never shows
}

// newFleetCLI starts a real controller and makes an API token for it with
// `wg-controller token create` on its data directory.
func newFleetCLI(t *testing.T) (*fleetCLI, *controllertest.Controller) {
	t.Helper()
	return newFleetCLIWith(t, controllertest.Options{PollInterval: time.Second})
}

// newFleetCLIWith is newFleetCLI with a controller shaped by o.
func newFleetCLIWith(t *testing.T, o controllertest.Options) (*fleetCLI, *controllertest.Controller) {
	t.Helper()
	ctl := controllertest.StartWith(t, o)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"token", "create", "--name", "cli-test", "--data-dir", ctl.DataDir},
		func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("token create: %v\n%s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	f := &fleetCLI{t: t, token: token, env: map[string]string{"WG_CONTROLLER_URL": ctl.URL, "WG_CONTROLLER_TOKEN": token}}
	t.Cleanup(func() {
		if strings.Contains(f.all.String(), token) {
			t.Error("the API token was printed")
		}
	})
	return f, ctl
}

// run runs wg-controller args and returns what it printed and its exit
// code as the real main would set it.
func (f *fleetCLI) run(args ...string) cliResult {
	return f.runEnv(f.env, args...)
}

func (f *fleetCLI) runEnv(env map[string]string, args ...string) cliResult {
	f.t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := run(ctx, args, func(k string) string { return env[k] }, &stdout, &stderr)
	code := cli.ExitCode("wg-controller", err, &stderr)
	f.all.WriteString(stdout.String() + stderr.String())
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

// ok runs args, fails the test unless it exits 0, and returns stdout.
func (f *fleetCLI) ok(args ...string) string {
	f.t.Helper()
	r := f.run(args...)
	if r.code != 0 {
		f.t.Fatalf("wg-controller %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs args with --json and decodes stdout into out.
func (f *fleetCLI) okJSON(out any, args ...string) {
	f.t.Helper()
	stdout := f.ok(append(args, "--json")...)
	reflect.ValueOf(out).Elem().SetZero() // decoding into a map would merge
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		f.t.Fatalf("wg-controller %s --json printed no JSON: %v\n%s", strings.Join(args, " "), err, stdout)
	}
}

// fails runs args and checks it exits with code and says want on stderr.
func (f *fleetCLI) fails(code int, want string, args ...string) {
	f.t.Helper()
	f.failsEnv(f.env, code, want, args...)
}

func (f *fleetCLI) failsEnv(env map[string]string, code int, want string, args ...string) {
	f.t.Helper()
	r := f.runEnv(env, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		f.t.Fatalf("wg-controller %s: exit %d, stderr %q; want exit %d saying %q", strings.Join(args, " "), r.code, r.stderr, code, want)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") > 40 {
		f.t.Errorf("wg-controller %s: an error of %d lines", strings.Join(args, " "), strings.Count(r.stderr, "\n"))
	}
}

// TestNodeCommands drives every node subcommand against a real controller
// and two real agents: tables, --json, and the exit codes of not found,
// conflict, invalid values and usage.
func TestNodeCommands(t *testing.T) {
	f, _ := newFleetCLI(t)
	a1 := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.151.0.1/24")}})
	a2 := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.152.0.1/24")}})
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(a1.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	var n1, n2 fleet.NodeView
	f.okJSON(&n1, "node", "add", "--name", "cli-a", "--agent-url", a1.URL, "--secret-file", secretFile,
		"--pool", "10.151.0.0/24", "--endpoint", "127.0.0.1:"+strconv.Itoa(a1.Tunnel("wg0").ListenPort()), "--label", "region=eu-west")
	if n1.ID == 0 || n1.Name != "cli-a" || n1.IPPool != "10.151.0.0/24" || n1.Labels["region"] != "eu-west" || !n1.Enabled {
		t.Fatalf("node add: %+v", n1)
	}
	out := f.ok("node", "add", "--name", "cli-b", "--agent-url", a2.URL, "--secret", a2.Secret, "--pool", "10.152.0.0/24",
		"--endpoint", "127.0.0.1:"+strconv.Itoa(a2.Tunnel("wg0").ListenPort()), "--disabled")
	if !strings.Contains(out, "cli-b") || !regexpMatch(`ENABLED\s+no`, out) {
		t.Fatalf("node add prints the node:\n%s", out)
	}
	f.okJSON(&n2, "node", "show", "cli-b")
	if n2.Enabled || n2.Name != "cli-b" {
		t.Fatalf("node show cli-b: %+v", n2)
	}

	// list: a table with a header and a row per node, JSON, a label filter.
	table := f.ok("node", "list")
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], "cli-a") || !strings.Contains(lines[2], "cli-b") {
		t.Fatalf("node list:\n%s", table)
	}
	var nodes []fleet.NodeView
	f.okJSON(&nodes, "node", "list", "--label", "region=eu-west")
	if len(nodes) != 1 || nodes[0].ID != n1.ID {
		t.Fatalf("node list --label region=eu-west: %+v", nodes)
	}

	f.okJSON(&n2, "node", "enable", "cli-b")
	if !n2.Enabled {
		t.Fatal("node enable left the node disabled")
	}
	f.okJSON(&n2, "node", "edit", strconv.FormatInt(n2.ID, 10), "--weight", "50", "--label", "region=ap-south", "--dns", "9.9.9.9")
	if n2.Weight != 50 || n2.Labels["region"] != "ap-south" || n2.DNS != "9.9.9.9" || n2.IPPool != "10.152.0.0/24" {
		t.Fatalf("node edit: %+v", n2)
	}
	f.okJSON(&n2, "node", "edit", "cli-b", "--clear-labels")
	if len(n2.Labels) != 0 || n2.Weight != 50 {
		t.Fatalf("node edit --clear-labels: %+v", n2)
	}
	f.okJSON(&n2, "node", "disable", "cli-b")
	if n2.Enabled {
		t.Fatal("node disable left the node enabled")
	}

	var res fleet.TestResult
	f.okJSON(&res, "node", "test", "cli-a")
	if !res.OK || len(res.Interfaces) != 1 {
		t.Fatalf("node test of a running agent: %+v", res)
	}
	if out := f.ok("node", "test", "cli-a"); !regexpMatch(`OK\s+yes`, out) {
		t.Fatalf("node test table:\n%s", out)
	}
	// A test that ran and failed exits 1 with the reason.
	f.ok("node", "edit", "cli-b", "--secret", agenttest.RandomSecret())
	f.fails(exitError, "the connection test failed", "node", "test", "cli-b")

	// Exit codes a script can rely on.
	f.fails(exitNotFound, "not found", "node", "show", "99999")
	f.fails(exitNotFound, `no node is named "nope"`, "node", "show", "nope")
	f.fails(exitConflict, "", "node", "add", "--name", "cli-a", "--agent-url", "http://127.0.0.1:1", "--secret", agenttest.RandomSecret(), "--pool", "10.153.0.0/24")
	f.fails(exitUsage, "ip_pool_cidr", "node", "add", "--name", "cli-c", "--agent-url", "http://127.0.0.1:1", "--secret", agenttest.RandomSecret(), "--pool", "10.0.0.0/33")
	f.fails(exitUsage, "takes NODE", "node", "show")
	f.fails(exitUsage, "unknown command", "node", "frobnicate")
	f.fails(exitUsage, "flag provided but not defined", "node", "list", "--force")
	f.fails(exitUsage, "not both", "node", "edit", "cli-a", "--secret", "x", "--secret-file", secretFile)

	// rm: refused while the node has peers, forced with them.
	f.ok("peer", "add", "--node", "cli-a", "--name", "doomed")
	f.fails(exitConflict, "force", "node", "rm", "cli-a")
	f.ok("node", "rm", "cli-a", "--force")
	f.fails(exitNotFound, "", "node", "show", strconv.FormatInt(n1.ID, 10))
	f.fails(exitNotFound, "", "peer", "show", "doomed")
	f.ok("node", "rm", "cli-b")
	f.okJSON(&nodes, "node", "list")
	if len(nodes) != 0 {
		t.Fatalf("nodes left: %+v", nodes)
	}
}

// TestClientExitCodes: a bad token, no token, an unreachable controller
// and something that is not a controller each exit with their code and a
// short sentence, and never print the token.
func TestClientExitCodes(t *testing.T) {
	f, ctl := newFleetCLI(t)
	const bogus = "wgf_bogus-token-that-is-not-real-0000000000000000"
	f.failsEnv(map[string]string{"WG_CONTROLLER_URL": ctl.URL, "WG_CONTROLLER_TOKEN": bogus}, exitAuth, "", "node", "list")
	r := f.run("node", "list", "--token", bogus)
	if r.code != exitAuth || strings.Contains(r.stdout+r.stderr, bogus) {
		t.Fatalf("--token bogus: exit %d, output %q", r.code, r.stdout+r.stderr)
	}
	f.failsEnv(map[string]string{"WG_CONTROLLER_URL": ctl.URL}, exitAuth, "WG_CONTROLLER_TOKEN", "peer", "list")

	closed := freeAddr(t)
	f.fails(exitUnreachable, "cannot reach the controller at http://"+closed+": connection refused", "node", "list", "--server", closed)
	f.failsEnv(map[string]string{"WG_CONTROLLER_URL": "http://" + closed, "WG_CONTROLLER_TOKEN": f.token},
		exitUnreachable, "connection refused", "peer", "show", "7")

	// Something that is not a controller: a server that answers HTML.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("<p>nope</p>"))
	}))
	defer html.Close()
	f.fails(exitUnreachable, "not a wgfleet controller answered 404 (text/html)", "node", "show", "1", "--server", html.URL)
	f.fails(exitUsage, "--server", "node", "list", "--server", "ftp://example.com")
}

func regexpMatch(expr, s string) bool {
	return regexp.MustCompile(expr).MatchString(s)
}
