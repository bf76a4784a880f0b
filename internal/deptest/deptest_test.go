package deptest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/wgfleet/wgfleet/"

type pkg struct {
	ImportPath string
	Deps       []string
}

// TestDependencyDirection: tunnel and container import neither agent nor
// controller; the controller reaches agents only through agent/agentapi
// and never imports the tunnel; nothing imports cmd; the agent never
// imports the controller; controller/fault and controller/labels are leaves; wgrules, the rules
// every layer shares, imports no package of this module. What each binary
// links is TestBinaryDependencies.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps=false", "-json", mod+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found only %d packages", len(pkgs))
	}
	rules := []struct {
		from   string // package path prefix, relative to the module
		banned string
		except string
	}{
		{"tunnel", "agent", ""},
		{"tunnel", "controller", ""},
		{"container", "agent", ""},
		{"container", "controller", ""},
		{"container", "tunnel", ""},
		{"agent", "controller", ""},
		{"tunnel/forward", "", "wgrules"}, // beneath the tunnel: no package of this module but the shared rules
		{"wgrules", "", ""},               // a leaf: every layer may import it, it imports none
		{"controller/fault", "", ""},      // the error codes every controller package may use
		{"controller/labels", "", ""},     // the label rules the store, fleet, API and enrollment share
		{"controller", "agent", "agent/agentapi"},
		{"controller", "tunnel", ""},
		{"", "cmd", ""},
		{"", "internal/testenv", ""}, // test helpers stay out of the programs
	}
	for _, p := range pkgs {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if rel == p.ImportPath {
			continue
		}
		for _, d := range p.Deps {
			drel := strings.TrimPrefix(d, mod)
			if drel == d {
				continue
			}
			for _, r := range rules {
				if !under(rel, r.from) || !under(drel, r.banned) || (r.except != "" && under(drel, r.except)) {
					continue
				}
				if r.from == "" && under(rel, r.banned) {
					continue // a package may depend on its own subtree
				}
				t.Errorf("%s depends on %s (rule: %q must not import %q)", rel, drel, r.from, r.banned)
			}
		}
	}
}

// TestLeavesUseOnlyTheStandardLibrary: detection of the environment must
// build anywhere, and the shared rules are imported by every layer, so
// container and wgrules depend on nothing outside the standard library.
func TestLeavesUseOnlyTheStandardLibrary(t *testing.T) {
	for _, leaf := range []string{"container", "wgrules"} {
		out, err := exec.Command("go", "list", "-f", `{{join .Deps "\n"}}`, mod+leaf).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", leaf, err)
		}
		for _, d := range strings.Fields(string(out)) {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") {
				t.Errorf("%s depends on %s: it may use the standard library only", leaf, d)
			}
		}
	}
}

func under(path, prefix string) bool {
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}
