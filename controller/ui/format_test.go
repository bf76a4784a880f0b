package ui_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/ui"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestFormatting runs the page's own formatting functions (js/format.js,
// the file name reader of js/api.js, and the label text of js/labels.js,
// the one reader of labels that the node and join token forms share) in
// Chromium, as the pages load them. now is 2026-01-01T12:00:00Z; ago(s) is a time s seconds before.
func TestFormatting(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	p := startBrowser(t, exe, srv.URL)
	p.navigate("/login")
	p.waitJS("the page's module", `!!document.querySelector('script[type="module"]')`)

	tests := []struct{ expr, want string }{
		{`f.bytes(0)`, "0 B"},
		{`f.bytes(-5)`, "0 B"},
		{`f.bytes(512)`, "512 B"},
		{`f.bytes(1024)`, "1 KiB"},
		{`f.bytes(1536)`, "1.5 KiB"},
		{`f.bytes(10 * 1024 * 1024)`, "10 MiB"},
		{`f.bytes(123.4 * 1024 * 1024)`, "123 MiB"},
		{`f.bytes(5.5 * 1024 ** 3)`, "5.5 GiB"},
		{`f.bytes(2 ** 60)`, "1024 PiB"}, // the largest unit
		{`f.relativeTime(null, now)`, "never"},
		{`f.relativeTime("", now)`, "never"},
		{`f.relativeTime("0001-01-01T00:00:00Z", now)`, "never"}, // Go's zero time
		{`f.relativeTime(ago(5), now)`, "just now"},
		{`f.relativeTime(ago(-30), now)`, "just now"}, // a clock ahead of ours
		{`f.relativeTime(ago(42), now)`, "42 s ago"},
		{`f.relativeTime(ago(5 * 60 + 59), now)`, "5 min ago"},
		{`f.relativeTime(ago(3 * 3600), now)`, "3 h ago"},
		{`f.relativeTime(ago(86400), now)`, "1 day ago"},
		{`f.relativeTime(ago(2 * 86400 + 5), now)`, "2 days ago"},
		{`f.relativeTime(ago(40 * 86400), now)`, "2025-11-22"},
		{`f.handshakeStatus(null, now)`, "never"},
		{`f.handshakeStatus(ago(179), now)`, "active"},
		{`f.handshakeStatus(ago(180), now)`, "idle"},
		{`f.nodeStatus({enabled: false, status: "online"})`, "disabled"},
		{`f.nodeStatus({enabled: true, status: "offline"})`, "offline"},
		{`f.nodeStatus({enabled: true, status: "rebooting"})`, "unknown"},
		{`f.apiPaths("bare")`, "/wg/… (bare)"},
		{`f.apiPaths("v1")`, "/v1/wg/… only"},
		{`f.apiPaths("")`, "not found out yet"},
		{`f.peerCapacity({peer_count: 3, max_peers: 10})`, "3 / 10"},
		{`f.peerCapacity({peer_count: 3, max_peers: 0})`, "3 (no limit)"},
		{`f.driftNow({drift_current: 0, drift_count: 7})`, ""}, // drift seen before, repaired since
		{`f.driftNow({drift_current: 1, drift_count: 1})`, "Drift: 1 difference"},
		{`f.driftNow({drift_current: 2, drift_count: 5})`, "Drift: 2 differences"},
		{`f.syncing({enabled: true, status: "online", desired_generation: 4, acked_generation: 4})`, ""},
		{`f.syncing({enabled: true, status: "online", desired_generation: 5, acked_generation: 4})`, "Syncing…"},
		{`f.syncing({enabled: true, status: "unknown", desired_generation: 1, acked_generation: 0})`, "Syncing…"},
		{`f.syncing({enabled: true, status: "offline", desired_generation: 5, acked_generation: 4})`, "Waiting for the agent…"},
		{`f.syncing({enabled: false, status: "disabled", desired_generation: 5, acked_generation: 4})`, ""},
		{`f.agentVersion({agent_version: "1.4.2"})`, "1.4.2"},
		{`f.agentVersion({agent_version: ""})`, "unknown"},
		{`f.driftSummary({drift_checked_at: null, drift_current: 0, drift_count: 0})`, "not checked yet"},
		{`f.driftSummary({drift_checked_at: ago(5), drift_current: 0, drift_count: 0})`, "none"},
		{`f.driftSummary({drift_checked_at: ago(5), drift_current: 0, drift_count: 3})`, "none now; seen 3 times in all"},
		{`f.driftSummary({drift_checked_at: ago(5), drift_current: 1, drift_count: 1})`, "1 difference now; seen 1 time in all"},
		{`f.statusText("over_limit")`, "over limit"},
		{`f.untilTime(ago(-30), now)`, "in under a minute"},
		{`f.untilTime(ago(-5 * 60), now)`, "in 5 min"},
		{`f.untilTime(ago(-3 * 3600), now)`, "in 3 h"},
		{`f.untilTime(ago(-3 * 86400), now)`, "in 3 days"},
		{`f.untilTime(ago(5), now)`, "now"},
		// The catalogs: plural rules of each language, placeholders, and
		// the fallbacks (English, then the key itself).
		{`en("peers.count", {count: 1})`, "1 peer"},
		{`en("peers.count", {count: 0})`, "0 peers"},
		{`fr("peers.count", {count: 0})`, "0 pair"}, // French counts 0 as one
		{`fr("peers.count", {count: 2})`, "2 pairs"},
		{`fr("node.lastSeen", {seen: fr("format.justNow")})`, "Vu à l'instant"},
		{`fr("app.notFound.text", {})`, "Il n'y a pas de page à l'adresse {path}."},
		{`i.translator("de")("login.submit")`, "Sign in"},
		{`en("no.such.key")`, "no.such.key"},
		{`i.chooseLanguage(null, ["fr-CA", "en"])`, "fr"},
		{`i.chooseLanguage(null, ["de-DE", "en-GB"])`, "en"},
		{`i.chooseLanguage(null, ["de-DE"])`, "en"},
		{`i.chooseLanguage("en", ["fr-FR"])`, "en"}, // the switch's choice wins
		{`i.chooseLanguage("xx", ["fr-FR"])`, "fr"},
		{`a.filenameOf('attachment; filename="alice-laptop.conf"')`, "alice-laptop.conf"},
		{`a.filenameOf("attachment; filename=wg1.conf")`, "wg1.conf"},
		{`a.filenameOf("attachment; filename*=UTF-8''caf%C3%A9.conf")`, "café.conf"},
		{`a.filenameOf(null)`, "download"},
		// Labels: commas or new lines between terms, spaces trimmed; what
		// the API must refuse stays in the text so that its message names
		// it (a key without "=" gets an empty value, a key given twice
		// with different values both).
		{`json(l.parseLabels("region=eu-west, tier=gold"))`, `{"region":"eu-west","tier":"gold"}`},
		{`json(l.parseLabels(" region = eu-west ,,\ntier=gold\n"))`, `{"region":"eu-west","tier":"gold"}`},
		{`json(l.parseLabels("region"))`, `{"region":""}`},
		{`json(l.parseLabels("region=eu, region=us"))`, `{"region":"eu,us"}`},
		{`json(l.parseLabels("region=eu, region=eu"))`, `{"region":"eu"}`},
		{`json(l.parseLabels(""))`, `{}`},
		{`json(l.parseLabels(undefined))`, `{}`},
		{`l.formatLabels({tier: "gold", region: "eu-west"})`, "region=eu-west, tier=gold"},
		{`l.formatLabels(null)`, ""},
	}
	checkModuleExprs(t, p, `const f = await import(base + "format.js");
		const a = await import(base + "api.js");
		const i = await import(base + "i18n.js");
		const l = await import(base + "labels.js");
		const en = i.translator("en"), fr = i.translator("fr");
		const json = (v) => JSON.stringify(v);`, tests)
}

// checkModuleExprs evaluates each test's JavaScript expression in the page,
// after imports (statements that import the UI's modules relative to base,
// the directory of app.js), with now fixed at 2026-01-01T12:00:00Z and
// ago(s) the ISO time s seconds before it, and compares each result, as a
// string, with its want. It fails on any script exception or CSP violation.
func checkModuleExprs(t *testing.T, p *page, imports string, tests []struct{ expr, want string }) {
	t.Helper()
	calls := make([]string, len(tests))
	for i, tt := range tests {
		calls[i] = "() => (" + tt.expr + ")"
	}
	script := fmt.Sprintf(`(async () => {
		const base = document.querySelector('script[type="module"]').src.replace(/app\.js$/, "");
		%s
		const now = Date.parse("2026-01-01T12:00:00Z");
		const ago = (s) => new Date(now - s * 1000).toISOString();
		return [%s].map((call) => String(call()));
	})()`, imports, strings.Join(calls, ",\n"))
	got := eval[[]string](p, script)
	for i, tt := range tests {
		if got[i] != tt.want {
			t.Errorf("%s = %q, want %q", tt.expr, got[i], tt.want)
		}
	}
	p.checkProblems()
}
