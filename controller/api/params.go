package api

import (
	"net/http"
	"strconv"

	"github.com/gorilla/mux"
)

// pathID returns the {id} of r's path, a positive integer; what names the
// kind of object ("node", "peer", "token") in the message otherwise.
func pathID(r *http.Request, what string) (int64, error) {
	raw := mux.Vars(r)["id"]
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequestf("%s id must be a positive integer, not %q", what, shorten(raw))
	}
	return id, nil
}

// queryBool returns the boolean query parameter name; absent is false.
func queryBool(r *http.Request, name string) (bool, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		return false, badRequestf("query parameter %s must be true or false, not %q", name, shorten(raw))
	}
	return b, nil
}
