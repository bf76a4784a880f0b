package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// writeTable prints one row per case of each figure: its headline metrics
// (every metric when the figure names none), or its status and note.
func writeTable(w io.Writer, figs []figure, results []Result) {
	head := map[string][]string{}
	for _, f := range figs {
		head[f.Name] = f.Headline
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tCASE\tSTATUS\tMEDIAN\t")
	for _, r := range results {
		if len(r.Cases) == 0 {
			fmt.Fprintf(tw, "%s\t\t%s\t%s\t\n", r.Figure, r.Status, firstLine(r.Note))
			continue
		}
		for _, c := range r.Cases {
			units := head[r.Figure]
			if len(units) == 0 {
				units = slices.Sorted(maps.Keys(c.Median))
			}
			var cols []string
			for _, u := range units {
				if v, ok := c.Median[u]; ok {
					cols = append(cols, formatValue(v)+" "+u)
				}
			}
			if len(cols) == 0 { // a parent benchmark that only ran sub-benchmarks
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", r.Figure, caseLabel(strings.TrimPrefix(r.Bench, "Benchmark"), c.Name), r.Status, strings.Join(cols, "  "))
		}
		if r.Status != StatusOK {
			fmt.Fprintf(tw, "%s\t\t%s\t%s\t\n", r.Figure, r.Status, firstLine(r.Note))
		}
	}
	tw.Flush()
}

// formatValue keeps about three significant digits.
func formatValue(v float64) string {
	switch {
	case v >= 1000 || v == float64(int64(v)):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
