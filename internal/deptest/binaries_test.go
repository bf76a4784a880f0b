package deptest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// binaryRule is what one binary may link (docs/ARCHITECTURE.md, "What each
// binary links").
type binaryRule struct {
	// main is the binary's package, relative to the module.
	main string
	// allowed are the only packages of this module the binary may link,
	// as subtree prefixes relative to the module ("" allows none).
	allowed []string
	// bannedExternal are import-path prefixes of other modules the binary
	// must not link.
	bannedExternal []string
	// fenced are subtrees of this module the binary may link only through
	// the edges in gates: every import of a fenced package from outside
	// the fence must be one of them.
	fenced []string
	// gates are the permitted entries into the fence, as "importer
	// imported" pairs relative to the module.
	gates []string
}

// testHelpers are the packages that exist for tests; no binary links them.
var testHelpers = []string{"internal/testenv", "agent/agenttest", "controller/controllertest", "controller/store/storetest"}

// binaryRules: wg-agent is the node and nothing of the controller; wg-
// controller may run an agent in-process (`demo`, `serve --local-node`),
// but only cmd/wg-controller may reach it, through package agent:
// no controller package imports the agent, the tunnel or the forwarder.
var binaryRules = []binaryRule{
	{
		main:    "cmd/wg-agent",
		allowed: []string{"cmd/wg-agent", "agent", "tunnel", "container", "wgrules", "internal/httpserve", "internal/cli", "internal/version"},
		bannedExternal: []string{
			"github.com/mattn/go-sqlite3", "github.com/jackc/pgx/", "github.com/golang-migrate/", "github.com/chromedp/",
			"github.com/skip2/go-qrcode",
		},
	},
	{
		main: "cmd/wg-controller",
		allowed: []string{"cmd/wg-controller", "controller", "agent", "tunnel", "container", "wgrules",
			"internal/httpserve", "internal/cli", "internal/version"},
		bannedExternal: []string{"github.com/chromedp/"},
		fenced:         []string{"agent", "tunnel"},
		gates:          []string{"cmd/wg-controller agent"},
	},
}

// fenceExceptions are packages under a fenced prefix that are not part of
// the fence: the wire contract every controller package may import.
var fenceExceptions = []string{"agent/agentapi"}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

// TestBinaryDependencies holds each binary to its rule over
// `go list -deps` of its main package.
func TestBinaryDependencies(t *testing.T) {
	for _, r := range binaryRules {
		t.Run(r.main, func(t *testing.T) {
			pkgs, err := listDeps(mod + r.main)
			if err != nil {
				t.Fatal(err)
			}
			if len(pkgs) < 10 {
				t.Fatalf("go list found only %d packages in %s", len(pkgs), r.main)
			}
			for _, v := range r.check(pkgs) {
				t.Error(v)
			}
		})
	}
}

// TestBinaryRulesCatchViolations runs the rules over made-up graphs, so a
// rule that could never fire is caught here.
func TestBinaryRulesCatchViolations(t *testing.T) {
	agentRule, controllerRule := binaryRules[0], binaryRules[1]
	p := func(path string, imports ...string) listedPackage {
		return listedPackage{ImportPath: path, Imports: imports}
	}
	tests := []struct {
		name string
		rule binaryRule
		pkgs []listedPackage
		want []string // substrings, one per violation expected
	}{
		{"agent links the store", agentRule, []listedPackage{
			p(mod+"cmd/wg-agent", mod+"agent"), p(mod+"agent", mod+"controller/store"), p(mod + "controller/store"),
		}, []string{"controller/store"}},
		{"agent links SQLite", agentRule, []listedPackage{
			p(mod+"cmd/wg-agent", mod+"agent"), p(mod+"agent", "github.com/mattn/go-sqlite3"), p("github.com/mattn/go-sqlite3"),
		}, []string{"github.com/mattn/go-sqlite3"}},
		{"agent links a test helper", agentRule, []listedPackage{
			p(mod+"cmd/wg-agent", mod+"agent/agenttest"), p(mod + "agent/agenttest"),
		}, []string{"agent/agenttest"}},
		{"controller package imports the agent", controllerRule, []listedPackage{
			p(mod+"cmd/wg-controller", mod+"controller"), p(mod+"controller", mod+"agent"), p(mod + "agent"),
		}, []string{"controller imports agent"}},
		{"controller package imports the tunnel", controllerRule, []listedPackage{
			p(mod+"cmd/wg-controller", mod+"controller/fleet"), p(mod+"controller/fleet", mod+"tunnel"), p(mod + "tunnel"),
		}, []string{"controller/fleet imports tunnel"}},
		{"main imports the tunnel directly", controllerRule, []listedPackage{
			p(mod+"cmd/wg-controller", mod+"tunnel"), p(mod + "tunnel"),
		}, []string{"cmd/wg-controller imports tunnel"}},
		{"controller links chromedp", controllerRule, []listedPackage{
			p(mod+"cmd/wg-controller", "github.com/chromedp/chromedp"), p("github.com/chromedp/chromedp"),
		}, []string{"github.com/chromedp/chromedp"}},
		{"allowed shapes", controllerRule, []listedPackage{
			p(mod+"cmd/wg-controller", mod+"controller", mod+"agent"),
			p(mod+"controller", mod+"agent/agentapi"),
			p(mod+"agent", mod+"agent/agentapi", mod+"tunnel"),
			p(mod+"agent/agentapi", mod+"container"),
			p(mod + "tunnel"), p(mod + "container"),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rule.check(tt.pkgs)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d violations %q, want %d matching %q", len(got), got, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("violation %d = %q, want it to mention %q", i, got[i], w)
				}
			}
		})
	}
}

// check returns one message per violation of r in the dependency graph
// pkgs (the binary's main package and everything it links).
func (r binaryRule) check(pkgs []listedPackage) []string {
	var out []string
	for _, p := range pkgs {
		rel, ours := strings.CutPrefix(p.ImportPath, mod)
		if !ours {
			for _, b := range r.bannedExternal {
				if strings.HasPrefix(p.ImportPath, b) {
					out = append(out, fmt.Sprintf("%s links %s (banned for this binary)", r.main, p.ImportPath))
				}
			}
			continue
		}
		if !underAny(rel, r.allowed) || underAny(rel, testHelpers) {
			out = append(out, fmt.Sprintf("%s links %s (not among the packages it may link: %v)", r.main, rel, r.allowed))
		}
		if r.inFence(rel) {
			continue
		}
		for _, imp := range p.Imports {
			irel, ok := strings.CutPrefix(imp, mod)
			if ok && r.inFence(irel) && !r.gate(rel, irel) {
				out = append(out, fmt.Sprintf("%s imports %s: inside %s the node's packages %v are reached only through %v",
					rel, irel, r.main, r.fenced, r.gates))
			}
		}
	}
	return out
}

func (r binaryRule) inFence(rel string) bool {
	return underAny(rel, r.fenced) && !underAny(rel, fenceExceptions)
}

func (r binaryRule) gate(from, to string) bool {
	for _, g := range r.gates {
		if g == from+" "+to {
			return true
		}
	}
	return false
}

func underAny(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if under(path, p) {
			return true
		}
	}
	return false
}

// listDeps is `go list -deps -json` of pkg: pkg and everything it links.
func listDeps(pkg string) ([]listedPackage, error) {
	out, err := exec.Command("go", "list", "-deps", "-json", pkg).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("go list -deps %s: %v: %s", pkg, err, ee.Stderr)
		}
		return nil, fmt.Errorf("go list -deps %s: %w", pkg, err)
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("decoding go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, nil
}
