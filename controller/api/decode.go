package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/controller/fleet"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// limitBody returns r with its body bounded to maxBodyBytes, as
// http.MaxBytesHandler does; readBody reads it.
func limitBody(w http.ResponseWriter, r *http.Request) *http.Request {
	return limitBodyTo(w, r, maxBodyBytes)
}

// limitBodyTo is limitBody with a smaller bound n, for routes open to
// anyone (login).
func limitBodyTo(w http.ResponseWriter, r *http.Request, n int64) *http.Request {
	r2 := *r
	r2.Body = http.MaxBytesReader(w, r.Body, n)
	return &r2
}

// readBody reads the body of r, which limitBody bounded.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &requestError{kind: errTooLarge, msg: fmt.Sprintf("request body exceeds %d bytes", tooLarge.Limit)}
	}
	if err != nil {
		return nil, badRequestf("reading request body: %v", err)
	}
	return body, nil
}

// decodeBody reads the body of r (see readBody) and decodes it with
// decode.
func decodeBody[T any](r *http.Request, decode func([]byte) (T, error)) (T, error) {
	body, err := readBody(r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decode(body)
}

// requireJSON refuses a request whose Content-Type is not JSON. A browser
// can send the CORS-safelisted types (forms, text/plain, none) to any site
// without asking; demanding application/json makes a cross-site request
// impossible without a preflight the controller never grants.
func requireJSON(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &requestError{kind: errMediaType, msg: "Content-Type must be application/json"}
	}
	return nil
}

func decodeNodeInput(data []byte) (fleet.NodeInput, error) { return decodeJSON[fleet.NodeInput](data) }

// decodePeerInput decodes a peer input strictly, its placement object
// included.
func decodePeerInput(data []byte) (fleet.PeerInput, error) {
	in, err := decodeJSON[fleet.PeerInput](data)
	if err != nil {
		return in, err
	}
	return in, checkNestedKeys(data, "placement", jsonFields(&fleet.Placement{}))
}

// checkNestedKeys refuses unknown and repeated keys in the object of the
// top-level field of data (already decoded), naming them as
// "field.key". An absent or null field passes.
func checkNestedKeys(data []byte, field string, allowed []string) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return describeJSONError(err, data)
	}
	raw, ok := top[field]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	err := checkKeys(raw, allowed)
	var re *requestError
	if errors.As(err, &re) && re.field != "" {
		re.msg = field + ": " + re.msg
		re.field = field + "." + re.field
	}
	return err
}

// decodeOptionalBody reads the body of r (see readBody) and, unless it is
// empty or only whitespace, decodes it strictly into a T; an absent body
// is the zero T. It serves the actions whose body is optional.
func decodeOptionalBody[T any](r *http.Request) (T, error) {
	var v T
	body, err := readBody(r)
	if err != nil || len(bytes.TrimSpace(body)) == 0 {
		return v, err
	}
	return decodeJSON[T](body)
}

// decodeJSON decodes data strictly (see decodeStrict) into a new T, a
// struct.
func decodeJSON[T any](data []byte) (T, error) {
	var v T
	err := decodeStrict(data, &v)
	return v, err
}

// decodeStrict decodes data, one JSON object, into the struct v points
// to. Unlike encoding/json's defaults it refuses: an empty body, a body
// that is not valid UTF-8 or not an object, keys that are not exactly the
// struct's JSON names (letter case included), a key given twice, a value
// of the wrong type, and anything after the object. Every error wraps
// errBadRequest and says what is wrong; errors about one field name it.
func decodeStrict(data []byte, v any) error {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return badRequestf("request body is empty; expected a JSON object")
	case !utf8.Valid(data):
		return badRequestf("request body is not valid UTF-8")
	case trimmed[0] != '{':
		return badRequestf("request body must be a JSON object")
	}
	if err := json.Unmarshal(data, v); err != nil {
		if err := describeMapValueError(err, v); err != nil {
			return err
		}
		return describeJSONError(err, data)
	}
	return checkKeys(data, jsonFields(v))
}

// describeMapValueError describes a wrong value inside a JSON object that
// decodes into a map, such as "labels": {"region": 5}; encoding/json
// names the map's field and the element's type, which on their own read
// as if the whole field had to be a string. nil when err is not that.
func describeMapValueError(err error, v any) error {
	var typ *json.UnmarshalTypeError
	if !errors.As(err, &typ) || typ.Field == "" {
		return nil
	}
	t := reflect.TypeOf(v)
	for name := range strings.SplitSeq(typ.Field, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		f, ok := fieldByJSONName(t, name)
		if !ok {
			return nil
		}
		t = f.Type
	}
	if t.Kind() != reflect.Map || t.Elem() != typ.Type {
		return nil
	}
	return badFieldf(typ.Field, "field %q must be an object of %s, not one holding %s",
		typ.Field, strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ")+"s", typ.Value)
}

// fieldByJSONName finds the field of struct type t whose JSON name is
// name.
func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// describeJSONError turns an encoding/json error into a message for the
// client.
func describeJSONError(err error, data []byte) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return badRequestf("request body is not valid JSON: %s (at byte %d)", syn.Error(), syn.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		return badFieldf(typ.Field, "field %q must be %s, not %s", typ.Field, describeType(typ.Type), typ.Value)
	case errors.As(err, &typ):
		return badRequestf("request body must be a JSON object, not %s", typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequestf("request body is not valid JSON: it ends too early")
	default:
		return badRequestf("request body is not valid JSON: %v", err)
	}
}

// describeType names a Go type as a JSON value, for messages.
func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array of " + strings.TrimPrefix(strings.TrimPrefix(describeType(t.Elem()), "a "), "an ") + "s"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// jsonFields returns the JSON names of the fields of the struct v points
// to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var names []string
	for f := range t.Fields() {
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer one's in JSON.
			names = append(names, jsonFields(reflect.New(f.Type).Interface())...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

// checkKeys walks the top-level keys of the JSON object in data (already
// known to be valid) and refuses unknown and repeated ones.
func checkKeys(data []byte, allowed []string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil { // {
		return describeJSONError(err, data)
	}
	seen := make(map[string]bool, len(allowed))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return describeJSONError(err, data)
		}
		key, _ := tok.(string)
		if !slices.Contains(allowed, key) {
			key = shorten(key)
			return badFieldf(key, "unknown field %q; the fields are: %s", key, strings.Join(allowed, ", "))
		}
		if seen[key] {
			return badFieldf(key, "field %q is given twice", key)
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return describeJSONError(err, data)
		}
	}
	return nil
}

// shorten cuts what a client sent to a length fit for a message.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	for i := max; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "..."
		}
	}
	return ""
}
