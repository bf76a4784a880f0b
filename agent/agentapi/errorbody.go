package agentapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// newAPIError makes the error for a non-2xx answer with body data and
// Content-Type contentType. Only an agent's error is quoted (up to
// maxErrorMessage bytes): ours, a JSON object whose "error" is a
// non-empty string, or the seed's production agent's (FastAPI's), read by
// detailMessage. Any other body is never quoted, since the URL may be
// anything a user typed (a connection test must not read web pages for
// them): the message says instead what answered, by status and content
// type. An empty body gives the status text.
func newAPIError(code int, contentType string, data []byte) *APIError {
	var e ErrorResponse
	if json.Unmarshal(data, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: code, Message: truncate(strings.ToValidUTF8(e.Error, "\uFFFD"), maxErrorMessage)}
	}
	if msg, ok := detailMessage(data); ok {
		return &APIError{StatusCode: code, Message: msg, detail: true}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &APIError{StatusCode: code, Message: http.StatusText(code)}
	}
	return &APIError{StatusCode: code, Foreign: true,
		Message: fmt.Sprintf("an HTTP server that is not a wgfleet agent answered %d (%s)", code, describeContentType(contentType))}
}

// fastAPIIssue is one entry of a FastAPI validation error's detail list.
// Its other fields ("type", "input", "ctx") are not read.
type fastAPIIssue struct {
	Loc []any   `json:"loc"`
	Msg *string `json:"msg"`
}

// detailMessage reads the error body of the seed's production agent
// (FastAPI): a JSON object whose "detail" is a non-empty string
// ({"detail": "Not Found"}), or a non-empty list of validation issues,
// each an object with a non-empty string "msg" and, optionally, a "loc"
// list of strings and numbers ({"detail": [{"loc": ["body",
// "allowed_ips"], "msg": "field required", "type": "..."}]}). The message
// is the string, or the issues as "body.allowed_ips: field required"
// joined by "; ", with control characters stripped and cut to
// maxErrorMessage bytes. ok is false for any other body, which is then
// not quoted.
func detailMessage(data []byte) (msg string, ok bool) {
	var body struct {
		Detail json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(data, &body) != nil || len(body.Detail) == 0 {
		return "", false
	}
	if json.Unmarshal(body.Detail, &msg) != nil {
		var issues []fastAPIIssue
		if json.Unmarshal(body.Detail, &issues) != nil || len(issues) == 0 {
			return "", false
		}
		var b strings.Builder
		for _, is := range issues {
			loc, ok := joinLoc(is.Loc)
			if !ok || is.Msg == nil || *is.Msg == "" {
				return "", false
			}
			if b.Len() > maxErrorMessage {
				continue // long enough; the rest is only checked
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			if loc != "" {
				b.WriteString(loc + ": ")
			}
			b.WriteString(*is.Msg)
		}
		msg = b.String()
	}
	msg = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, msg)
	if strings.TrimSpace(msg) == "" {
		return "", false
	}
	return truncate(msg, maxErrorMessage), true
}

// joinLoc writes a FastAPI issue's loc as its parts joined by dots
// ("body.allowed_ips.0"). ok is false when a part is neither a string
// nor a number.
func joinLoc(loc []any) (string, bool) {
	parts := make([]string, 0, len(loc))
	for _, p := range loc {
		switch v := p.(type) {
		case string:
			parts = append(parts, v)
		case float64:
			parts = append(parts, strconv.FormatFloat(v, 'f', -1, 64))
		default:
			return "", false
		}
	}
	return strings.Join(parts, "."), true
}

// describeContentType names a Content-Type for a message: its media type
// when it is one, never the raw header.
func describeContentType(ct string) string {
	if strings.TrimSpace(ct) == "" {
		return "no content type"
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || len(mt) > 64 {
		return "an unreadable content type"
	}
	return mt
}

// truncate cuts s to at most max bytes at a rune boundary, marking the cut.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
