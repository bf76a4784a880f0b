package agentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes bounds every request body but a bulk one (bulk.go); Decode*
// reject anything larger, DecodeSync anything larger than MaxBulkBodyBytes.
// Read at most MaxBodyBytes+1 bytes to tell "exactly the limit" from "over".
const MaxBodyBytes = 1 << 20

// DecodeAddPeer decodes a POST /wg/{iface}/peers body. See decodeBody for
// what is checked (unknown fields are refused); the values themselves are
// not validated.
func DecodeAddPeer(data []byte) (AddPeerRequest, error) {
	var req AddPeerRequest
	if err := decodeBody(data, &req); err != nil {
		return AddPeerRequest{}, err
	}
	return req, nil
}

// DecodeUpdatePeer decodes a PUT /wg/{iface}/peers/{pubkey} body. A field
// that is absent or null stays nil (unchanged).
func DecodeUpdatePeer(data []byte) (UpdatePeerRequest, error) {
	var req UpdatePeerRequest
	if err := decodeBody(data, &req); err != nil {
		return UpdatePeerRequest{}, err
	}
	return req, nil
}

// DecodeSync decodes a PUT /v1/wg/{iface}/peers body. "peers" must be
// present and an array: a missing or null "peers" (a typo, an empty object)
// must not read as "remove every peer", which only [] says. The returned
// Peers is never nil.
func DecodeSync(data []byte) (SyncRequest, error) {
	var body struct {
		Peers *[]PeerSpec `json:"peers"`
	}
	if err := decodeBodyLimit(data, &body, MaxBulkBodyBytes); err != nil {
		return SyncRequest{}, err
	}
	if body.Peers == nil {
		return SyncRequest{}, fmt.Errorf(`%w: "peers" must be an array`, ErrBadRequest)
	}
	peers := *body.Peers
	if peers == nil {
		peers = []PeerSpec{}
	}
	return SyncRequest{Peers: peers}, nil
}

// decodeBody decodes one JSON object into v. A body that is larger than
// MaxBodyBytes, not valid UTF-8, not an object, has a field v does not
// know (like "private_key" or "listen_port": the agent never sets what it
// would silently ignore), a value of the wrong type, or anything but white
// space after the object is an error wrapping ErrBadRequest that names the
// field. "endpoint" gets its own message: the agent does not set peer
// endpoints. Keys match case-insensitively and the last of duplicate keys
// wins, as with encoding/json; bodies are signed, so neither is a way in
// for anyone without the secret.
func decodeBody(data []byte, v any) error { return decodeBodyLimit(data, v, MaxBodyBytes) }

// decodeBodyLimit is decodeBody for bodies of up to limit bytes.
func decodeBodyLimit(data []byte, v any, limit int) error {
	if len(data) > limit {
		return fmt.Errorf("%w: body exceeds %d bytes", ErrBadRequest, limit)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrBadRequest)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: body must be a JSON object", ErrBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := unknownField(err); ok {
			if strings.EqualFold(f, "endpoint") {
				return fmt.Errorf(`%w: "endpoint" is not supported: the agent does not set peer endpoints (a peer's endpoint is learnt from its handshakes)`, ErrBadRequest)
			}
			return fmt.Errorf("%w: unknown field %q", ErrBadRequest, f)
		}
		return fmt.Errorf("%w: invalid JSON body: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: invalid JSON body: data after the object", ErrBadRequest)
	}
	return nil
}

// unknownField returns the field named by encoding/json's error for an
// unknown field, which has no type of its own.
func unknownField(err error) (string, bool) {
	const prefix = "json: unknown field "
	msg := err.Error()
	if !strings.HasPrefix(msg, prefix) {
		return "", false
	}
	f, uerr := strconv.Unquote(msg[len(prefix):])
	return f, uerr == nil
}
