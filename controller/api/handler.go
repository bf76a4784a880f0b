package api

import (
	"mime"
	"net/http"
	"strconv"
)

// result is a handler's success answer: its HTTP status and the
// envelope's message (empty is null) and data (nil is null).
type result struct {
	status  int
	message string
	data    any
	// failed makes the envelope's status false: the request was served,
	// but what it tried did not work (a connection test).
	failed bool
	// detail is the envelope's detail: what lies behind a failed
	// outcome's message.
	detail string
}

// success is a 200 answer.
func success(message string, data any) result {
	return result{status: http.StatusOK, message: message, data: data}
}

// created is a 201 answer.
func created(message string, data any) result {
	return result{status: http.StatusCreated, message: message, data: data}
}

// apiHandler serves one request: the success answer, or an error for fail.
// The request's body is bounded to maxBodyBytes (see readBody).
type apiHandler func(r *http.Request) (result, error)

// handle makes an http.HandlerFunc of h: it bounds the body, runs h and
// answers with fail when h fails, else with h's result in the envelope.
func (s *server) handle(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := h(limitBody(w, r))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeEnvelope(w, res.status, envelope{Status: !res.failed, Message: optional(res.message), Detail: res.detail, Data: res.data})
	}
}

// file is a handler's success answer that is a file, not JSON. It may
// hold a private key, so it is never cached.
type file struct {
	contentType string
	// name, when not empty, makes the answer an attachment of that name.
	name string
	body []byte
}

// fileHandler serves one request that answers a file, or an error for fail.
type fileHandler func(r *http.Request) (file, error)

// handleFile makes an http.HandlerFunc of h: it runs h and answers 200
// with its file, or with fail when h fails. The body is never read.
func (s *server) handleFile(h fileHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := h(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", f.contentType)
		if f.name != "" {
			hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.name}))
		}
		hd.Set("Cache-Control", "no-store")
		hd.Set("Content-Length", strconv.Itoa(len(f.body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(f.body)
	}
}

// orEmpty returns list, or an empty list for nil, so that an answer's
// data is [] rather than null.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
