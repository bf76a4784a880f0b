package api

import "net/http"

// Demo is what the demo's UI suggests trying next besides the UI itself.
type Demo struct {
	// Commands are fleet CLI command lines ("wg-controller peer list"),
	// in the order to try them.
	Commands []string `json:"commands"`
}

// demoInfo: GET /api/demo says whether this is the controller of
// `wg-controller demo` and, if so, the commands its UI suggests:
// {"demo": true, "commands": [...]}, or {"demo": false, "commands": []}.
func (s *server) demoInfo(*http.Request) (result, error) {
	type answer struct {
		Demo     bool     `json:"demo"`
		Commands []string `json:"commands"`
	}
	if s.demo == nil {
		return success("", answer{Commands: []string{}}), nil
	}
	return success("", answer{Demo: true, Commands: orEmpty(s.demo.Commands)}), nil
}
