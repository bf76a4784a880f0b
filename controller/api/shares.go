package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// SharePathPrefix starts the path of every share link's page:
// /share/TOKEN. The request log never shows what follows it.
const SharePathPrefix = "/share/"

// Default bounds of unauthenticated share link lookups (the page and
// POST /api/share/open, each counted) per client address.
const (
	DefaultShareLookups      = 30
	DefaultShareLookupWindow = time.Minute
)

// maxShareBodyBytes bounds the body of POST /api/share/open, which anyone
// may send: a token is 47 characters.
const maxShareBodyBytes = 1 << 10

// newShareView is the answer to creating a share link: the one time its
// URL, which holds the token, is shown.
type newShareView struct {
	fleet.ShareView
	URL string `json:"url"`
}

// createShare: POST /api/peers/{id}/share {"expires_in", "one_time"}.
func (s *server) createShare(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	in, err := decodeBody(r, decodeJSON[fleet.ShareInput])
	if err != nil {
		return result{}, err
	}
	token, v, err := s.fleet.CreateShare(r.Context(), actor(r), id, in)
	if err != nil {
		return result{}, err
	}
	return created("share link created; it is shown only this once", newShareView{ShareView: v, URL: s.shareURL(r, token)}), nil
}

// shareURL is the address of the page of token, on the host the request
// reached (https when it came over TLS or the controller is told it sits
// behind it).
func (s *server) shareURL(r *http.Request, token string) string {
	scheme := "http"
	if r.TLS != nil || s.secureCookies {
		scheme = "https"
	}
	return scheme + "://" + r.Host + SharePathPrefix + token
}

// listShares: GET /api/peers/{id}/shares.
func (s *server) listShares(r *http.Request) (result, error) {
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	list, err := s.fleet.ListShares(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(list)), nil
}

// revokeShare: DELETE /api/shares/{id}.
func (s *server) revokeShare(r *http.Request) (result, error) {
	id, err := pathID(r, "share link")
	if err != nil {
		return result{}, err
	}
	v, err := s.fleet.RevokeShare(r.Context(), actor(r), id)
	if err != nil {
		return result{}, err
	}
	return success("share link revoked", v), nil
}

type openShareRequest struct {
	Token *string `json:"token"`
}

// sharedConfigView is what an opened share link answers: the config, with
// its private key, and its QR code (PNG, base64 in JSON).
type sharedConfigView struct {
	PeerName  string    `json:"peer_name"`
	FileName  string    `json:"file_name"`
	Config    string    `json:"config"`
	QRPNG     []byte    `json:"qr_png"`
	OneTime   bool      `json:"one_time"`
	ExpiresAt time.Time `json:"expires_at"`
}

// openShare: POST /api/share/open {"token"}, without credentials: the
// share page's script asks for the config here, and this is what uses a
// link up (a one-time link answers once, then 410). The token travels in
// the body so that it is in no path the request log writes.
func (s *server) openShare(w http.ResponseWriter, r *http.Request) {
	if err := s.shareLimit.Allow(r.RemoteAddr); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := requireJSON(r); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := decodeBody(limitBodyTo(w, r, maxShareBodyBytes), decodeJSON[openShareRequest])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Token == nil || *req.Token == "" {
		s.fail(w, r, badFieldf("token", "token is required"))
		return
	}
	sc, err := s.fleet.OpenShare(r.Context(), *req.Token, r.RemoteAddr)
	if err != nil {
		s.fail(w, r, shareError(err))
		return
	}
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.principal = "share:" + strconv.FormatInt(sc.ShareID, 10)
	}
	s.respond(w, http.StatusOK, "", sharedConfigView{
		PeerName: sc.PeerName, FileName: sc.FileName, Config: string(sc.Config), QRPNG: sc.QRPNG,
		OneTime: sc.OneTime, ExpiresAt: sc.ExpiresAt,
	})
}

// shareError words a link that does not open for whoever holds it.
func shareError(err error) error {
	switch {
	case errors.Is(err, store.ErrShareGone):
		return err
	case errors.Is(err, store.ErrShareNotFound):
		return notFoundf("this share link does not exist; ask for a new one")
	}
	return err
}

// sharePage: GET /share/TOKEN, without credentials: the page of a share
// link (controller/ui), answered 200 while the link works, else 404
// (unknown) or 410 (used, expired or revoked) with the same page, whose
// script then says why. Looking at the page uses nothing up: its script
// opens the link (openShare), so a link preview that fetches the page
// without running scripts leaves a one-time link working.
func (s *server) sharePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.fail(w, r, &requestError{kind: errMethod, msg: "method " + r.Method + " is not allowed on a share link"})
		return
	}
	if err := s.shareLimit.Allow(r.RemoteAddr); err != nil {
		s.fail(w, r, err)
		return
	}
	token := strings.TrimPrefix(r.URL.Path, SharePathPrefix)
	err := s.fleet.CheckShare(r.Context(), token)
	status := http.StatusOK
	if err != nil {
		if !errors.Is(err, store.ErrShareGone) && !errors.Is(err, store.ErrShareNotFound) {
			s.fail(w, r, err)
			return
		}
		status = statusOf(err).status // the page, under the status the API would answer
	}
	if s.ui == nil {
		if err == nil {
			err = notFoundf("no such page: the web UI is not served")
		}
		s.fail(w, r, shareError(err))
		return
	}
	s.ui.ServeHTTP(&statusOverride{ResponseWriter: w, status: status}, r)
}

// statusOverride answers status where the handler it wraps answers 200.
type statusOverride struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (o *statusOverride) WriteHeader(code int) {
	if !o.wrote && code == http.StatusOK {
		code = o.status
	}
	o.wrote = true
	o.ResponseWriter.WriteHeader(code)
}

func (o *statusOverride) Write(b []byte) (int, error) {
	if !o.wrote {
		o.WriteHeader(http.StatusOK)
	}
	return o.ResponseWriter.Write(b)
}

func (o *statusOverride) Unwrap() http.ResponseWriter { return o.ResponseWriter }
