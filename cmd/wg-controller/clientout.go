package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// show writes v: as indented JSON with --json, else as text() writes it
// to a tabwriter (columns two spaces apart).
func (r *remote) show(v any, text func(w io.Writer)) error {
	if r.json {
		enc := json.NewEncoder(r.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(r.stdout, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// say writes the controller's message for a person to stderr (stdout is
// for what a script reads); "" writes nothing.
func (r *remote) say(msg string) {
	if msg != "" {
		fmt.Fprintln(r.stderr, msg)
	}
}

// row writes cells as one tab-separated line.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// field writes one "NAME  value" line of a show.
func field(w io.Writer, name, value string) {
	fmt.Fprintf(w, "%s\t%s\n", name, or(value, "-"))
}

// ago is t for a table: "-" for nil, else RFC 3339 in UTC.
func ago(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return when(*t, "-")
}

// bytesText is n bytes in binary units for a person: 0 B, 1.5 KiB, 3.2 GiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// yesNo is a bool for a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
