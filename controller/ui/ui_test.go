package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutesOfTheAppServeThePage(t *testing.T) {
	h := Handler()
	for _, path := range []string{"/", "/nodes", "/nodes/", "/nodes/42", "/login", "/some/deep/route"} {
		t.Run(path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", cc)
			}
			b := body(t, res)
			if !strings.Contains(b, `<script type="module" src="/ui/`) {
				t.Errorf("page does not load the app module:\n%s", b)
			}
			if strings.Contains(b, assetMarker) {
				t.Errorf("page still contains the marker %s", assetMarker)
			}
		})
	}
}

// TestEveryReferencedAssetIsServed follows the page's links and every
// module's imports, and checks each answer's type and caching: a missing
// file, a wrong MIME type (a module refused by the browser) or an import
// of a file that does not exist fails here.
func TestEveryReferencedAssetIsServed(t *testing.T) {
	h := Handler()
	// Both pages: the app, and the page of a share link.
	page := body(t, get(t, h, http.MethodGet, "/", nil)) + body(t, get(t, h, http.MethodGet, SharePrefix+"wgs_x", nil))
	refs := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("page references %d assets, want the stylesheet, the icon and the app module", len(refs))
	}
	imports := regexp.MustCompile(`(?m)^(?:import|export)\s[^;]*?from\s+"(\./[^"]+)"`)
	wantType := map[string]string{
		".js":   "text/javascript; charset=utf-8",
		".css":  "text/css; charset=utf-8",
		".svg":  "image/svg+xml",
		".json": "application/json",
	}
	queue := []string{}
	for _, r := range refs {
		queue = append(queue, r[1])
	}
	seen := map[string]bool{}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		res := get(t, h, http.MethodGet, p, nil)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", p, res.StatusCode)
			continue
		}
		ext := p[strings.LastIndex(p, "."):]
		if got := res.Header.Get("Content-Type"); got != wantType[ext] {
			t.Errorf("%s: Content-Type %q, want %q", p, got, wantType[ext])
		}
		if cc := res.Header.Get("Cache-Control"); cc != cacheImmutable {
			t.Errorf("%s: Cache-Control %q, want %q", p, cc, cacheImmutable)
		}
		if res.Header.Get("ETag") == "" {
			t.Errorf("%s: no ETag", p)
		}
		if ext == ".js" {
			dir := p[:strings.LastIndex(p, "/")+1]
			for _, m := range imports.FindAllStringSubmatch(body(t, res), -1) {
				queue = append(queue, dir+strings.TrimPrefix(m[1], "./"))
			}
		}
	}
	// Every embedded file is reachable: none is dead weight.
	hh := h.(*handler)
	for name := range hh.assets {
		if !seen[AssetPrefix+hh.version+"/"+name] {
			t.Errorf("embedded %s is referenced by nothing", name)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler()
	v := h.(*handler).version
	tests := []struct {
		name, method, path string
		want               int
	}{
		{"unknown asset", http.MethodGet, "/ui/" + v + "/js/nope.js", http.StatusNotFound},
		{"directory of assets", http.MethodGet, "/ui/" + v + "/js/", http.StatusNotFound},
		{"page is not an asset", http.MethodGet, "/ui/" + v + "/index.html", http.StatusNotFound},
		{"file outside the assets", http.MethodGet, "/favicon.ico", http.StatusNotFound},
		{"stale asset path", http.MethodGet, "/js/app.js", http.StatusNotFound},
		{"post", http.MethodPost, "/nodes", http.StatusMethodNotAllowed},
		{"delete asset", http.MethodDelete, "/ui/" + v + "/js/app.js", http.StatusMethodNotAllowed},
		{"head", http.MethodHead, "/nodes", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, h, tt.method, tt.path, nil)
			if res.StatusCode != tt.want {
				t.Fatalf("%s %s: status %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
			}
			if tt.want == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", res.Header.Get("Allow"))
			}
		})
	}
}

func TestOtherVersionIsRevalidated(t *testing.T) {
	h := Handler()
	res := get(t, h, http.MethodGet, "/ui/000000000000/js/app.js", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	if cc := res.Header.Get("Cache-Control"); cc != cachePage {
		t.Errorf("Cache-Control %q for another version, want %q", cc, cachePage)
	}
}

func TestConditionalRequest(t *testing.T) {
	h := Handler()
	first := get(t, h, http.MethodGet, "/nodes", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, http.MethodGet, "/nodes", map[string]string{"If-None-Match": etag})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("status %d with a matching If-None-Match, want 304", again.StatusCode)
	}
}

func TestVersionFollowsContent(t *testing.T) {
	files := fstest.MapFS{
		"static/index.html": {Data: []byte(`<script type="module" src="{{ASSETS}}/js/a.js"></script>`)},
		"static/share.html": {Data: []byte(`<script type="module" src="{{ASSETS}}/js/a.js"></script>`)},
		"static/js/a.js":    {Data: []byte(`export const a = 1;`)},
	}
	h1, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	files["static/js/a.js"] = &fstest.MapFile{Data: []byte(`export const a = 2;`)}
	h2, err := newHandler(files)
	if err != nil {
		t.Fatal(err)
	}
	if h1.version == h2.version {
		t.Errorf("version %s did not change with the content", h1.version)
	}
	if !strings.Contains(string(h2.index.body), "/ui/"+h2.version+"/js/a.js") {
		t.Errorf("page: %s", h2.index.body)
	}
}

func TestBadAssetSets(t *testing.T) {
	tests := []struct {
		name  string
		files fstest.MapFS
	}{
		{"no page", fstest.MapFS{"static/js/a.js": {Data: []byte("x")}}},
		{"page without marker", fstest.MapFS{"static/index.html": {Data: []byte("<p>hi</p>")}}},
		{"unknown file type", fstest.MapFS{
			"static/index.html": {Data: []byte(assetMarker)},
			"static/notes.txt":  {Data: []byte("x")},
		}},
		{"no static dir", fstest.MapFS{"index.html": {Data: []byte(assetMarker)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newHandler(tt.files); err == nil {
				t.Error("newHandler accepted it")
			}
		})
	}
}

// TestAssetsFollowTheCSP reads the sources for what the API's
// Content-Security-Policy (script and style from 'self' only) would block,
// and for markup built from strings, which would let data from the API
// run as HTML.
func TestAssetsFollowTheCSP(t *testing.T) {
	forbidden := []struct {
		re   *regexp.Regexp
		why  string
		exts []string
	}{
		{regexp.MustCompile(`\sstyle\s*=`), "inline style attribute", []string{".html"}},
		{regexp.MustCompile(`\son[a-z]+\s*=`), "inline event handler", []string{".html"}},
		{regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]+</script>`), "inline script", []string{".html"}},
		{regexp.MustCompile(`<style`), "inline stylesheet", []string{".html"}},
		{regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`), "markup from strings", []string{".js"}},
		{regexp.MustCompile(`\beval\(|new Function\(`), "eval", []string{".js"}},
		{regexp.MustCompile(`setAttribute\(\s*"style"|\.style\.`), "inline style from script", []string{".js"}},
		{regexp.MustCompile(`https?://[a-z]`), "a resource from another origin", []string{".css"}},
	}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		ext := p[strings.LastIndex(p, "."):]
		for _, f := range forbidden {
			for _, e := range f.exts {
				if e == ext && f.re.Match(b) {
					t.Errorf("%s: %s: %q", p, f.why, f.re.Find(b))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSharePage: /share/TOKEN is the share page for any token (the API
// answers it only for a link that exists), kept by no cache.
func TestSharePage(t *testing.T) {
	h := Handler()
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		res := get(t, h, method, SharePrefix+"wgs_anything", nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", method, res.StatusCode)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", method, cc)
		}
		if et := res.Header.Get("ETag"); et != "" {
			t.Errorf("%s: ETag %q on a page whose URL holds a credential", method, et)
		}
		b := body(t, res)
		switch {
		case method == http.MethodHead && b != "":
			t.Errorf("HEAD answered a body")
		case method == http.MethodGet && !strings.Contains(b, "/js/share.js"):
			t.Errorf("GET: not the share page: %.200s", b)
		}
	}
}
