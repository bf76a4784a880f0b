package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// sample is one benchmark line of `go test -bench` output: the benchmark
// (with its sub-benchmark path, without the GOMAXPROCS suffix), its
// iterations and every metric it reported, by unit.
type sample struct {
	Name    string
	N       int
	Metrics map[string]float64
}

// parsed is what one `go test -bench` run printed.
type parsed struct {
	Samples []sample
	// Skipped holds the reasons of the benchmarks that skipped
	// ("--- SKIP" and the log line under it).
	Skipped []string
	// Failed is set when a benchmark or the package failed.
	Failed bool
}

// parseOutput reads `go test -bench` output. Lines it does not know are
// ignored: logs, "goos:", "PASS", "ok".
func parseOutput(r io.Reader) parsed {
	var p parsed
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	skipping := false
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "--- SKIP:"):
			skipping = true
			p.Skipped = append(p.Skipped, strings.TrimSpace(strings.TrimPrefix(trim, "--- SKIP:")))
			continue
		case strings.HasPrefix(trim, "--- FAIL:"), trim == "FAIL", strings.HasPrefix(trim, "FAIL\t"),
			strings.HasPrefix(trim, "panic:"):
			p.Failed = true
		case skipping && trim != "" && strings.HasPrefix(line, " "):
			p.Skipped[len(p.Skipped)-1] += ": " + trim
			skipping = false
			continue
		}
		skipping = false
		if s, ok := parseLine(line); ok {
			p.Samples = append(p.Samples, s)
		}
	}
	return p
}

// parseLine parses one benchmark result line:
//
//	BenchmarkName/sub-2   	  3	 123 ns/op	 2.5 calls/node
func parseLine(line string) (sample, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return sample{}, false
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return sample{}, false
	}
	s := sample{Name: trimProcs(f[0]), N: n, Metrics: map[string]float64{}}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return sample{}, false
		}
		s.Metrics[f[i+1]] = v
	}
	return s, true
}

// trimProcs drops the "-GOMAXPROCS" suffix go test adds to a name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
