package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// static holds the page and its assets. index.html is the page of every
// route of the single-page app; everything else is served under
// AssetPrefix.
//
//go:embed static
var static embed.FS

// AssetPrefix is the path under which the assets are served, followed by
// the version of the embedded files: /ui/VERSION/js/app.js.
const AssetPrefix = "/ui/"

// assetMarker in index.html is replaced by AssetPrefix + version.
const assetMarker = "{{ASSETS}}"

// Cache policies. The page is revalidated on every load so that a new
// controller's assets are picked up at once; versioned assets never change
// under their URL, so a browser keeps them for a year.
const (
	cachePage      = "no-cache"
	cacheImmutable = "public, max-age=31536000, immutable"
)

// contentType is the type of an embedded file, by extension; "" for an
// extension the UI does not use. Fixed here rather than taken from the
// system's mime tables, which differ between machines (a .js served as
// text/plain is refused as a module).
func contentType(ext string) string {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return ""
}

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// handler serves the embedded UI; it is immutable once made.
type handler struct {
	version string           // hash of all embedded files
	index   asset            // index.html with its asset marker filled in
	share   asset            // share.html, the page of a share link, likewise
	assets  map[string]asset // by path below static/, e.g. "js/app.js"
}

// SharePrefix starts the path of a share link's page, /share/TOKEN. The
// page is the same for every token and holds no secret: its script asks
// the API for the config.
const SharePrefix = "/share/"

// Handler returns the web UI's handler. GET and HEAD only:
//   - /ui/VERSION/FILE serves an embedded asset, cached for good under the
//     current version (an older version's URL gets the current file,
//     revalidated each time);
//   - /share/TOKEN serves share.html, the page of a share link, never
//     cached (controller/api answers it only for a link that exists);
//   - any other path whose last segment has no dot (/, /nodes, /nodes/7,
//     /login) is a route of the app: the page itself, index.html;
//   - anything else is 404.
//
// It sets Content-Type, Cache-Control and ETag; security headers are the
// API's (see package doc).
func Handler() http.Handler {
	h, err := newHandler(static)
	if err != nil {
		// The files are compiled in: this cannot fail in a built binary
		// whose tests pass.
		panic(fmt.Sprintf("ui: embedded assets: %v", err))
	}
	return h
}

// newHandler reads every file of fsys's static directory.
func newHandler(fsys fs.FS) (*handler, error) {
	root, err := fs.Sub(fsys, "static")
	if err != nil {
		return nil, fmt.Errorf("opening static: %w", err)
	}
	h := &handler{assets: map[string]asset{}}
	sum := sha256.New()
	var page, share []byte
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		fmt.Fprintf(sum, "%s\x00%d\x00", p, len(body))
		sum.Write(body)
		switch p {
		case "index.html":
			page = body
			return nil
		case "share.html":
			share = body
			return nil
		}
		ct := contentType(path.Ext(p))
		if ct == "" {
			return fmt.Errorf("%s: no content type for extension %q", p, path.Ext(p))
		}
		h.assets[p] = asset{body: body, contentType: ct, etag: etagOf(body)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:12]
	if h.index, err = h.page("index.html", page); err != nil {
		return nil, err
	}
	if h.share, err = h.page("share.html", share); err != nil {
		return nil, err
	}
	return h, nil
}

// page makes the asset of an HTML page, with its asset marker filled in.
func (h *handler) page(name string, body []byte) (asset, error) {
	if body == nil {
		return asset{}, fmt.Errorf("%s is missing", name)
	}
	if !bytes.Contains(body, []byte(assetMarker)) {
		return asset{}, fmt.Errorf("%s does not contain %s", name, assetMarker)
	}
	body = bytes.ReplaceAll(body, []byte(assetMarker), []byte(AssetPrefix+h.version))
	return asset{body: body, contentType: contentType(".html"), etag: etagOf(body)}, nil
}

func etagOf(b []byte) string {
	s := sha256.Sum256(b)
	return `"` + hex.EncodeToString(s[:8]) + `"`
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, AssetPrefix); ok {
		version, file, _ := strings.Cut(rest, "/")
		a, found := h.assets[file]
		if !found {
			http.NotFound(w, r)
			return
		}
		policy := cacheImmutable
		if version != h.version {
			policy = cachePage
		}
		h.serve(w, r, a, policy)
		return
	}
	if strings.HasPrefix(p, SharePrefix) {
		// Its URL holds a credential: kept by no cache, validated by no
		// ETag.
		hd := w.Header()
		hd.Set("Content-Type", h.share.contentType)
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Length", strconv.Itoa(len(h.share.body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(h.share.body)
		}
		return
	}
	if strings.Contains(path.Base(p), ".") {
		// A file that is not one of ours (favicon.ico, a stale bookmark of
		// an asset): 404 rather than the page, which a browser would take
		// for a broken script or image.
		http.NotFound(w, r)
		return
	}
	h.serve(w, r, h.index, cachePage)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, a asset, policy string) {
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", policy)
	hd.Set("ETag", a.etag)
	// No modification time: the ETag alone validates.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
