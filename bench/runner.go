package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// moduleRoot is the directory of the module's go.mod, where figures run.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return "", fmt.Errorf("finding the module: run from inside the wgfleet module")
	}
	return filepath.Dir(gomod), nil
}

// args are the `go test` arguments of one figure.
func (f figure) args(o options) []string {
	bt := f.Benchtime
	if o.quick {
		bt = f.Quick
	}
	a := []string{"test", "-run", "^$", "-bench", "^Benchmark" + f.Bench + "$",
		"-benchtime", bt, "-count", strconv.Itoa(o.count), "-timeout", f.timeout(o).String()}
	if o.quick && f.Short {
		a = append(a, "-short")
	}
	return append(a, f.Pkg)
}

// timeout bounds all the runs of a figure.
func (f figure) timeout(o options) time.Duration {
	return f.Timeout * time.Duration(o.count)
}

// runFigure runs one figure's benchmark in a `go test` subprocess, bounded
// by the figure's timeout, and parses what it printed.
func runFigure(ctx context.Context, root string, f figure, o options) Result {
	r := Result{Figure: f.Name, Package: f.Pkg, Bench: "Benchmark" + f.Bench, What: f.What}
	// go test stops the benchmark at -timeout; the extra minute is for
	// building the test binary.
	ctx, cancel := context.WithTimeout(ctx, f.timeout(o)+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", f.args(o)...)
	cmd.Dir = root
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	r.Seconds = time.Since(start).Seconds()
	p := parseOutput(bytes.NewReader(out.Bytes()))
	r.Cases = cases(p.Samples)
	switch {
	case err != nil || p.Failed:
		r.Status = StatusFailed
		r.Note = fmt.Sprintf("go %s: %v\n%s", strings.Join(f.args(o), " "), err, tail(out.String(), 40))
	case len(p.Samples) == 0 && len(p.Skipped) > 0:
		r.Status = StatusSkipped
		r.Note = strings.Join(p.Skipped, "; ")
	case len(p.Samples) == 0:
		r.Status = StatusFailed
		r.Note = "no benchmark result in the output:\n" + tail(out.String(), 40)
	default:
		r.Status = StatusOK
		r.Note = strings.Join(p.Skipped, "; ")
	}
	return r
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
