// Command bench runs wgfleet's benchmark suite with one command and
// prints a table of its figures, each beside the baseline measured in the
// same run:
//
//	go run ./bench                      # every figure, median of 3
//	go run ./bench -quick               # a short smoke run of every figure
//	go run ./bench -only reconcile-fleet -json out.json
//
// Each figure is a Go benchmark of the package it measures, run by `go
// test -bench` in a subprocess bounded in time; the bench program parses
// the benchmark lines (name, iterations, every reported metric) and keeps
// the median of each metric over -count runs. What each figure means and
// how its baseline is shown to saturate is in docs/BENCHMARKS.md. Figures
// that need root (network namespaces) are reported as skipped without it.
package main
