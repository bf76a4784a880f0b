package api

import (
	"net/http"
	"strings"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

// maxEnrollBodyBytes bounds the body of POST /api/enroll, which anyone may
// send: every field of agentapi.EnrollRequest at its longest, escaped.
const maxEnrollBodyBytes = 16 << 10

// newEnrollmentView is the answer to creating a join token: the one time
// the token itself is shown, and the command that joins a node with it.
type newEnrollmentView struct {
	fleet.EnrollmentTokenView
	Token       string `json:"token"`
	JoinCommand string `json:"join_command"`
}

func (s *server) listEnrollmentTokens(r *http.Request) (result, error) {
	toks, err := s.fleet.ListEnrollmentTokens(r.Context())
	if err != nil {
		return result{}, err
	}
	return success("", toks), nil
}

func (s *server) createEnrollmentToken(r *http.Request) (result, error) {
	in, err := decodeBody(r, decodeJSON[fleet.EnrollmentTokenInput])
	if err != nil {
		return result{}, err
	}
	tok, v, err := s.fleet.CreateEnrollmentToken(r.Context(), actor(r), in, s.joinPin)
	if err != nil {
		return result{}, err
	}
	return created("enrollment token created; it is shown only this once", newEnrollmentView{
		EnrollmentTokenView: v, Token: tok.String(), JoinCommand: JoinCommand(s.joinURL(r), tok.String()),
	}), nil
}

func (s *server) revokeEnrollmentToken(r *http.Request) (result, error) {
	id, err := pathID(r, "enrollment token")
	if err != nil {
		return result{}, err
	}
	if err := s.fleet.RevokeEnrollmentToken(r.Context(), actor(r), id); err != nil {
		return result{}, err
	}
	return success("enrollment token revoked", nil), nil
}

// enroll: POST /api/enroll, open to anyone: the join token in the body is
// the credential. Failed attempts are limited per address like logins.
func (s *server) enroll(w http.ResponseWriter, r *http.Request) {
	if err := requireJSON(r); err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := decodeBody(limitBodyTo(w, r, maxEnrollBodyBytes), decodeJSON[agentapi.EnrollRequest])
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var resp agentapi.EnrollResponse
	err = s.auth.GuardEnroll(r.RemoteAddr, func() error {
		var err error
		resp, err = s.fleet.Enroll(r.Context(), req)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respond(w, http.StatusCreated, "node enrolled", resp)
}

// joinURL is the controller's URL for agents that join: Config.JoinURL,
// or else the scheme and host this request came in by.
func (s *server) joinURL(r *http.Request) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// JoinCommand is the command an operator runs on a new node to join it
// with token to the controller at url.
func JoinCommand(url, token string) string {
	return "wg-agent --join " + shellQuote(strings.TrimRight(url, "/")) + " --join-token " + shellQuote(token)
}

// shellQuote quotes s for a POSIX shell unless it needs none.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/[]@%+=,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
