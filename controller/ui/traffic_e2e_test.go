package ui_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ui"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestTrafficChartsEndToEnd: real WireGuard traffic through a real agent
// shows in headless Chromium at 375 px wide in dark mode: the node page's
// chart draws it (a line above its axis, in the dark palette, inside the
// screen) with a title and a summary that say it in words; the peer's
// chart (its Traffic dialog) too, and its range switch loads the 7 days by
// hour; the node's card says its 24 hours' totals. It fails on any script
// exception or CSP violation.
func TestTrafficChartsEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	node := addAgentNode(t, fl, a, "edge-chart", "10.99.0.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{
		Name: new("charted"), PublicKey: new(key.PublicKey().String()),
	})
	if err != nil {
		t.Fatal(err)
	}
	waitApplied(t, fl, peer.ID)
	const size = 96 << 10
	if err := a.Exchange(key, netip.MustParseAddr(peer.Address4), size, 20*time.Second); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	eventually(t, "a poll to count the exchange", func() bool {
		v, err := fl.GetPeer(ctx, peer.ID)
		return err == nil && v.RxTotal >= size && v.TxTotal >= size
	})

	p := startBrowser(t, exe, base)
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatalf("emulating dark mode: %v", err)
	}
	p.navigate(fmt.Sprintf("/nodes/%d", node.ID))
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()

	// checkChart checks the chart inside root: drawn, the received line
	// above its axis somewhere, within the screen, in the dark palette,
	// labelled by its title and its summary, and the summary in words.
	checkChart := func(what, root string) {
		t.Helper()
		svg := root + " svg.traffic-svg"
		p.waitJS(what+" drawn with traffic", fmt.Sprintf(`(() => {
			const s = document.querySelector(%q);
			return !!s && visibleText(%q).startsWith("Received ");
		})()`, svg, root+" .traffic-summary"))
		if !p.evalBool(fmt.Sprintf(`(() => {
			const d = document.querySelector(%q).getAttribute("d");
			const ys = [...d.matchAll(/,(\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));
			return ys.length > 1 && Math.min(...ys) < Math.max(...ys);
		})()`, svg+" path.traffic-line.traffic-rx")) {
			p.fail("%s: the received line is flat", what)
		}
		if !p.evalBool(fmt.Sprintf(`(() => {
			const r = document.querySelector(%q).getBoundingClientRect();
			return r.width >= 200 && r.left >= 0 && r.right <= window.innerWidth;
		})()`, svg)) {
			p.fail("%s: the chart does not fit the %d px screen", what, phoneW)
		}
		testenv.Equal(t, what+": received line colour (dark)", p.evalString(fmt.Sprintf(
			`getComputedStyle(document.querySelector(%q)).stroke`, svg+" path.traffic-line.traffic-rx")), "rgb(96, 165, 250)")
		testenv.Equal(t, what+": label colour (dark)", p.evalString(fmt.Sprintf(
			`getComputedStyle(document.querySelector(%q)).fill`, svg+" text.traffic-label")), "rgb(160, 168, 182)")
		if !p.evalBool(fmt.Sprintf(`(() => {
			const s = document.querySelector(%q);
			const ids = s.getAttribute("aria-labelledby").split(" ");
			const title = document.getElementById(ids[0]), desc = document.getElementById(ids[1]);
			return s.getAttribute("role") === "img" && title && title.tagName === "title" && title.textContent.startsWith("Traffic of ") &&
				desc && desc.textContent.includes("received and") && s.querySelector("desc").textContent === desc.textContent;
		})()`, svg)) {
			p.fail("%s: the chart is not labelled by its title and summary", what)
		}
	}

	t.Log("the node's chart")
	checkChart("node chart", ".traffic-section")
	// The chart may load before the page learns its node's name (it then
	// says "this node"); the title must turn to the name without waiting
	// for the chart's next minute's reload.
	p.waitJS("the node chart titled with the node's name",
		`document.querySelector(".traffic-section svg title").textContent === "Traffic of edge-chart, the last 24 hours"`)
	if p.evalBool(`getComputedStyle(document.body).backgroundColor !== "rgb(18, 21, 27)"`) {
		p.fail("the page is not in dark mode")
	}
	p.screenshot("traffic-node-phone-dark")

	t.Log("the peer's chart")
	row := fmt.Sprintf(`tr[data-peer-id="%d"]`, peer.ID)
	p.do("open the peer's traffic", chromedp.Click(chromedp.CSS(row+` button[data-action="traffic"]`)))
	checkChart("peer chart", "dialog.modal")
	testenv.Equal(t, "peer chart title", p.evalString(`document.querySelector("dialog.modal svg title").textContent`),
		"Traffic of charted, the last 24 hours")
	p.screenshot("traffic-peer-phone-dark")
	p.do("switch to 7 days", chromedp.Click(chromedp.CSS(`dialog.modal .traffic-ranges button[data-range="7d"]`)))
	p.waitJS("the 7 days by hour", `document.querySelector("dialog.modal svg title").textContent === "Traffic of charted, the last 7 days" &&
		/ per (\d+ )?hours?$/.test(document.querySelector("dialog.modal .traffic-label").textContent)`)
	testenv.Equal(t, "7d pressed", p.evalString(`document.querySelector('dialog.modal button[data-range="7d"]').getAttribute("aria-pressed")`), "true")
	testenv.Equal(t, "24h not pressed", p.evalString(`document.querySelector('dialog.modal button[data-range="24h"]').getAttribute("aria-pressed")`), "false")
	checkChart("peer chart by hour", "dialog.modal")
	p.do("close the dialog", chromedp.Click(chromedp.CSS(`dialog.modal .modal-head button`)))

	t.Log("the node card's totals")
	p.navigate("/nodes")
	card := fmt.Sprintf(`li[data-node-id="%d"] .node-traffic`, node.ID)
	p.waitJS("the card's 24 h totals", fmt.Sprintf(`/^[1-9][0-9.]* [KM]iB received, [1-9][0-9.]* [KM]iB sent$/.test(visibleText(%q))`, card))
	p.screenshot("traffic-cards-phone-dark")
	p.checkProblems()
}

// TestChartHelpers runs js/charts.js's pure helpers in Chromium, as the
// pages load them: the rate units, the grouping of points to the width,
// the words of the text alternative and of the node cards, and some of
// them in French; and a chart drawn before it knows whose it is (the node
// page's, before the node's name arrives) retitled when told.
func TestChartHelpers(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	p := startBrowser(t, exe, srv.URL)
	p.navigate("/login")
	p.waitJS("the page's module", `!!document.querySelector('script[type="module"]')`)
	checkModuleExprs(t, p, `const c = await import(base + "charts.js");
		const fr = (await import(base + "i18n.js")).translator("fr");
		const pts = (n) => Array.from({length: n}, (_, i) => ({t: ago(60 * (n - i)), rx: i, tx: 1}));
		const json = (v) => JSON.stringify(v);
		const series = {step: 60, rx: 3, tx: 3, points: [
			{t: "2026-01-01T11:58:00Z", rx: 1, tx: 2}, {t: "2026-01-01T11:59:00Z", rx: 2, tx: 1}]};
		const chart = new c.TrafficChart({api: {get: async () => ({data: series})}}, "node", 1, "this node");
		document.body.append(chart.el);
		await chart.load();
		const title = () => chart.el.querySelector("svg title").textContent;
		const titles = [title()];
		chart.setName("edge-1");
		titles.push(title());
		chart.stop();
		chart.el.remove();`, []struct{ expr, want string }{
		{`titles[0]`, "Traffic of this node, the last 24 hours"},
		{`titles[1]`, "Traffic of edge-1, the last 24 hours"},
		{`c.stepWords(60)`, "per minute"},
		{`c.stepWords(600)`, "per 10 minutes"},
		{`c.stepWords(3600)`, "per hour"},
		{`c.stepWords(7200)`, "per 2 hours"},
		{`c.stepWords(86400 * 3)`, "per 3 days"},
		{`c.stepWords(90)`, "per 90 seconds"},
		{`c.buckets(pts(1440), 300).length`, "288"},                                          // groups of 5
		{`c.buckets(pts(10), 300).length`, "10"},                                             // no grouping
		{`json(c.buckets(pts(4), 2).map((g) => [g.rx, g.tx, g.span]))`, "[[1,2,2],[5,2,2]]"}, // sums
		{`c.buckets(pts(4), 2)[1].t === pts(4)[2].t`, "true"},                                // a group starts where its first point does
		{`c.buckets([], 10).length`, "0"},
		{`c.summary({step: 60, rx: 0, tx: 0, points: pts(3).map((p) => ({...p, rx: 0, tx: 0}))}, "the last 24 hours")`, "No traffic in the last 24 hours."},
		{`c.summary({step: 60, rx: 3, tx: 3, points: pts(3)}, "the last 24 hours").split(". ")[0]`, "Received 3 B, sent 3 B in the last 24 hours"},
		{`c.trafficTotals({rx: 1536, tx: 10 * 1024 * 1024})`, "1.5 KiB received, 10 MiB sent"},
		{`c.trafficTotals(undefined)`, "0 B received, 0 B sent"},
		{`fr("traffic.perHours", {count: 1})`, "par heure"},
		{`fr("traffic.perHours", {count: 2})`, "par tranche de 2 heures"},
		{`fr("traffic.totals", {rx: "1 KiB", tx: "2 KiB"})`, "1 KiB reçus, 2 KiB envoyés"},
	})
}
