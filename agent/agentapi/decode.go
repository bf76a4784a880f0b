package agentapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// MaxBodyBytes bounds every request body; Decode* reject anything larger.
// Read at most MaxBodyBytes+1 bytes to tell "exactly the limit" from "over".
const MaxBodyBytes = 1 << 20

// DecodeAddPeer decodes a POST /wg/{iface}/peers body. See decodeBody for
// what is checked; the fields themselves are not validated.
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
	if err := decodeBody(data, &body); err != nil {
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

// decodeBody decodes one JSON object into v. Unknown fields are ignored (the
// seed's controllers may send more), but a body that is larger than
// MaxBodyBytes, not valid UTF-8, not an object, has a value of the wrong
// type, or has anything but white space after the object is an error
// wrapping ErrBadRequest. Keys match case-insensitively and the last of
// duplicate keys wins, as with encoding/json; bodies are signed, so neither
// is a way in for anyone without the secret.
func decodeBody(data []byte, v any) error {
	if len(data) > MaxBodyBytes {
		return fmt.Errorf("%w: body exceeds %d bytes", ErrBadRequest, MaxBodyBytes)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: body is not valid UTF-8", ErrBadRequest)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: body must be a JSON object", ErrBadRequest)
	}
	// Unmarshal, unlike a Decoder, rejects trailing data.
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: invalid JSON body: %v", ErrBadRequest, err)
	}
	return nil
}
