package agent

import (
	"io"
	"net/http"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// rotateSecret answers POST /v1/secret/rotate: the sealed secret in the
// body, opened with the secret that signed the request, becomes pending
// (accepted besides the others) once it is saved.
func (a *Agent) rotateSecret(w http.ResponseWriter, r *http.Request, signer []byte) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, badRequestf("reading request body: %v", err))
		return
	}
	req, err := agentapi.DecodeRotateSecret(data)
	if err != nil {
		writeError(w, err)
		return
	}
	next, err := agentapi.OpenSecret(signer, req.SealedSecret)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := agentapi.CheckRotatedSecret(next); err != nil {
		writeError(w, badRequestf("offered secret %v", err))
		return
	}
	if err := a.secrets.offer(signer, next); err != nil {
		a.answerRotation(w, r, err)
		return
	}
	a.log.Info("secret rotation offered: a new secret is accepted besides the others until it is confirmed")
	writeJSON(w, http.StatusOK, agentapi.RotationStatus{Status: agentapi.RotationPending})
}

// confirmSecret answers POST /v1/secret/confirm: signed with the pending
// secret, it makes that secret the only one accepted.
func (a *Agent) confirmSecret(w http.ResponseWriter, r *http.Request, signer []byte) {
	if err := a.secrets.confirm(signer); err != nil {
		a.answerRotation(w, r, err)
		return
	}
	a.log.Info("secret rotation confirmed: only the new secret is accepted")
	writeJSON(w, http.StatusOK, agentapi.RotationStatus{Status: agentapi.RotationConfirmed})
}

// answerRotation writes a rotation's failure, logging faults of the agent.
func (a *Agent) answerRotation(w http.ResponseWriter, r *http.Request, err error) {
	if s, _ := statusOf(err); s >= 500 {
		a.log.Error("secret rotation failed", "path", r.URL.Path, "err", err)
	}
	writeError(w, err)
}
