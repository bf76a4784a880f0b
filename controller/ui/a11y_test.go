package ui_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is axe-core 4.14.1 (testdata/axe, with its licence): the
// browser tests inject it into the page they test.
const axeSource = "testdata/axe/axe.min.js"

// axeImpacts are the impacts that fail a test.
var axeImpacts = []string{"serious", "critical"}

// checkAccessibility runs axe-core on the page as it is now, in the light
// and the dark colour scheme, and fails the test on any serious or
// critical violation of WCAG 2.1 A and AA and axe's best practices,
// listing each with the elements at fault. what names the page in the
// message ("nodes", "node detail"). Every browser test calls it on the
// pages and dialogs it opens; it leaves the page in the light scheme.
func (p *page) checkAccessibility(what string) {
	p.t.Helper()
	src, err := os.ReadFile(axeSource)
	if err != nil {
		p.t.Fatalf("reading axe-core: %v", err)
	}
	if !p.evalBool(`typeof window.axe === "object"`) {
		p.do("inject axe-core", chromedp.Evaluate[chromedp.Void](string(src)))
	}
	impacts, _ := json.Marshal(axeImpacts)
	script := fmt.Sprintf(`axe.run(document, {
		runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
		resultTypes: ["violations"],
	}).then((r) => r.violations.filter((v) => %s.includes(v.impact)).map((v) =>
		v.impact + " " + v.id + " (" + v.help + "): " + v.nodes.map((n) => n.target.join(" ") + " [" + (n.failureSummary || "").replace(/\s+/g, " ") + "]").join("; ")))`, impacts)
	for _, scheme := range []string{"light", "dark"} {
		p.colorScheme(scheme)
		for _, v := range eval[[]string](p, script) {
			p.t.Errorf("accessibility of %s (%s): %s", what, scheme, v)
		}
	}
	p.colorScheme("light")
}

// colorScheme makes the page's prefers-color-scheme scheme ("light" or
// "dark").
func (p *page) colorScheme(scheme string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		p.t.Fatalf("emulating %s: %v", scheme, err)
	}
	// Let the styles of the new scheme apply before anything is measured.
	_ = p.evalBool(`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`)
}
