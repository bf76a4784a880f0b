package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// options are the bench program's flags.
type options struct {
	only  []string
	quick bool
	count int
	json  string
	list  bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	s := cli.NewSet("bench", stderr)
	s.SetUsage("usage: go run ./bench [flags]\n\nRuns wgfleet's benchmark suite and prints a table; docs/BENCHMARKS.md explains each figure.")
	only := cli.List(s, "only", "", func(v string) (string, error) { return v, nil }, "run only this figure (repeatable; see -list)")
	quick := cli.Bool(s, "quick", "", false, "a short smoke run: one run of each figure at its smallest load")
	count := cli.Int(s, "count", "", 3, "runs of each figure; the table shows the median")
	jsonOut := cli.String(s, "json", "", "", "also write the results and the machine to this JSON file")
	list := cli.Bool(s, "list", "", false, "list the figures and exit")
	if err := s.Parse(args, nil); err != nil {
		return options{}, err
	}
	o := options{only: only.Get(), quick: quick.Get(), count: count.Get(), json: jsonOut.Get(), list: list.Get()}
	if o.quick && !count.Given() {
		o.count = 1
	}
	if o.count < 1 {
		return options{}, fmt.Errorf("--count: %d is below 1", o.count)
	}
	return o, nil
}

// Report is the JSON file -json writes.
type Report struct {
	Started time.Time `json:"started"`
	Quick   bool      `json:"quick"`
	Count   int       `json:"count"`
	Machine Machine   `json:"machine"`
	Results []Result  `json:"results"`
	// LoadAfter is the load average when the last figure ended.
	LoadAfter string `json:"load_after"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	figs, err := selectFigures(suite(), o.only)
	if err != nil {
		return err
	}
	if o.list {
		for _, f := range figs {
			fmt.Fprintf(stdout, "%-22s %s (Benchmark%s in %s)\n", f.Name, f.What, f.Bench, f.Pkg)
		}
		return nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	rep := Report{Started: time.Now().UTC(), Quick: o.quick, Count: o.count, Machine: machine(ctx, root)}
	fmt.Fprintln(stdout, rep.Machine.summary())
	for _, f := range figs {
		fmt.Fprintf(stderr, "bench: %s (Benchmark%s in %s)...\n", f.Name, f.Bench, f.Pkg)
		r := runFigure(ctx, root, f, o)
		rep.Results = append(rep.Results, r)
		if ctx.Err() != nil {
			break
		}
	}
	rep.LoadAfter = loadAverage()
	writeTable(stdout, figs, rep.Results)
	fmt.Fprintf(stdout, "load average after: %s\n", rep.LoadAfter)
	if o.json != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding results: %w", err)
		}
		if err := os.WriteFile(o.json, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing results: %w", err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	var failed []string
	for _, r := range rep.Results {
		if r.Status == StatusFailed {
			failed = append(failed, r.Figure)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("failed: %s", strings.Join(failed, ", "))
	}
	return nil
}

// selectFigures keeps the figures only names, in suite order; nil keeps
// all. An unknown name is an error that lists the known ones.
func selectFigures(all []figure, only []string) ([]figure, error) {
	if len(only) == 0 {
		return all, nil
	}
	var names []string
	for _, f := range all {
		names = append(names, f.Name)
	}
	for _, n := range only {
		if !slices.Contains(names, n) {
			return nil, fmt.Errorf("--only: no figure %q (figures: %s)", n, strings.Join(names, ", "))
		}
	}
	var out []figure
	for _, f := range all {
		if slices.Contains(only, f.Name) {
			out = append(out, f)
		}
	}
	return out, nil
}
