package main

import (
	"slices"
	"strings"
)

// Status says how a figure's run ended.
type Status string

// Statuses of a figure.
const (
	StatusOK      Status = "ok"
	StatusSkipped Status = "skipped" // the benchmark skipped itself (no root, no namespaces)
	StatusFailed  Status = "failed"  // it failed, timed out, or printed no result
)

// Result is one figure's outcome, as the JSON file holds it.
type Result struct {
	Figure  string  `json:"figure"`
	Package string  `json:"package"`
	Bench   string  `json:"benchmark"`
	What    string  `json:"what"`
	Status  Status  `json:"status"`
	Seconds float64 `json:"seconds"`
	// Cases are the benchmark and its sub-benchmarks, in the order they
	// first ran.
	Cases []Case `json:"cases,omitempty"`
	// Note is the skip reason, or the tail of the output of a failure.
	Note string `json:"note,omitempty"`
}

// Case is one benchmark (or sub-benchmark) of a figure: the median of
// each metric over the runs, and every run's value.
type Case struct {
	Name    string               `json:"name"`
	Median  map[string]float64   `json:"median"`
	Samples map[string][]float64 `json:"samples"`
}

// cases groups samples by benchmark name and takes each metric's median.
func cases(samples []sample) []Case {
	var out []Case
	idx := map[string]int{}
	for _, s := range samples {
		i, ok := idx[s.Name]
		if !ok {
			i = len(out)
			idx[s.Name] = i
			out = append(out, Case{Name: s.Name, Median: map[string]float64{}, Samples: map[string][]float64{}})
		}
		for unit, v := range s.Metrics {
			out[i].Samples[unit] = append(out[i].Samples[unit], v)
		}
	}
	for i := range out {
		for unit, vs := range out[i].Samples {
			out[i].Median[unit] = median(vs)
		}
	}
	return out
}

// median of vs; the lower middle one of an even count. vs is not changed.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// caseLabel is a case's name without the figure's own benchmark name:
// "drift=1%" for BenchmarkReconcileFleet/drift=1%, "" for the top level.
func caseLabel(bench, name string) string {
	rest := strings.TrimPrefix(name, "Benchmark"+bench)
	return strings.TrimPrefix(rest, "/")
}
