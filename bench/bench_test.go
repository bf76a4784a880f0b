package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// equal fails the test when got differs from want, naming what differed.
func equal[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestParseOutput(t *testing.T) {
	out := `goos: linux
goarch: amd64
pkg: github.com/wgfleet/wgfleet/controller/reconcile
cpu: AMD EPYC
BenchmarkReconcileFleet/drift=0%-2         	       3	 412345678 ns/op	         2.000 calls/node	         0 drifted/node
BenchmarkReconcileFleet/drift=1%-2         	       3	 512345678 ns/op	         4.000 calls/node	        10.00 drifted/node
BenchmarkReconcileFleet/drift=1%-2         	       3	 500000000 ns/op	         4.000 calls/node	        10.00 drifted/node
--- BENCH: BenchmarkReconcileFleet
    bench_test.go:190: 
        reconcile of 10 nodes x 1000 peers
--- SKIP: BenchmarkForwardThroughput
    forward_bench_test.go:22: needs root
PASS
ok  	github.com/wgfleet/wgfleet/controller/reconcile	12.3s
`
	p := parseOutput(strings.NewReader(out))
	if p.Failed {
		t.Errorf("Failed = true for a passing run")
	}
	if len(p.Samples) != 3 {
		t.Fatalf("%d samples, want 3", len(p.Samples))
	}
	equal(t, "Samples[0].Name", p.Samples[0].Name, "BenchmarkReconcileFleet/drift=0%")
	equal(t, "Samples[1].Metrics[calls/node]", p.Samples[1].Metrics["calls/node"], 4.0)
	equal(t, "Skipped", strings.Join(p.Skipped, "|"), "BenchmarkForwardThroughput: forward_bench_test.go:22: needs root")
	cs := cases(p.Samples)
	if len(cs) != 2 {
		t.Fatalf("%d cases, want 2", len(cs))
	}
	equal(t, "median ns/op of drift=1%", cs[1].Median["ns/op"], 500000000.0)
	equal(t, "case label", caseLabel("ReconcileFleet", cs[1].Name), "drift=1%")

	if p := parseOutput(strings.NewReader("--- FAIL: BenchmarkX\nFAIL\n")); !p.Failed {
		t.Errorf("Failed = false for a failing run")
	}
}

func TestSelectFigures(t *testing.T) {
	got, err := selectFigures(suite(), []string{"reconcile-fleet", "egress-policy"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "egress-policy" || got[1].Name != "reconcile-fleet" {
		t.Errorf("selected %v, want egress-policy then reconcile-fleet (suite order)", got)
	}
	if _, err := selectFigures(suite(), []string{"nope"}); err == nil || !strings.Contains(err.Error(), "egress-policy") {
		t.Errorf("unknown figure: err = %v, want one that lists the figures", err)
	}
}

// TestQuickRun runs the program's -quick path end to end on its cheapest
// figure, so the suite cannot rot: the table and the JSON file hold the
// figure's result. Nothing here is timed.
func TestQuickRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a benchmark in a subprocess")
	}
	file := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-quick", "-only", "egress-policy", "-json", file}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	if !strings.Contains(stdout.String(), "egress-policy") || !strings.Contains(stdout.String(), "ns/op") {
		t.Errorf("table has no egress-policy row with ns/op:\n%s", &stdout)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decoding %s: %v", file, err)
	}
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	r := rep.Results[0]
	equal(t, "status", r.Status, StatusOK)
	if len(r.Cases) != 1 || r.Cases[0].Median["ns/op"] <= 0 {
		t.Errorf("cases = %+v, want one with ns/op", r.Cases)
	}
	if !rep.Quick || rep.Count != 1 || rep.Machine.CPUs == 0 {
		t.Errorf("report quick=%v count=%d cpus=%d, want true, 1 and the CPUs", rep.Quick, rep.Count, rep.Machine.CPUs)
	}
}
