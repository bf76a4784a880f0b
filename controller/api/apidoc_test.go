package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// docRoute is a route as docs/API.md writes it: a method and a path of
// this API (its query, if any, left out).
var docRoute = regexp.MustCompile("\\b(GET|HEAD|POST|PUT|PATCH|DELETE) (/(?:api/|healthz|metrics)[^\\s`?|,)\\[]*)")

// TestAPIDocMatchesRoutes: docs/API.md names every route of the roles
// matrix (which TestEveryRouteHasARole holds to the router), and every
// route it names is one.
func TestAPIDocMatchesRoutes(t *testing.T) {
	b, err := os.ReadFile("../../docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	routes := wantAccess()
	named := map[string]bool{}
	for _, m := range docRoute.FindAllStringSubmatch(doc, -1) {
		key := m[1] + " " + strings.TrimRight(m[2], ".:")
		named[key] = true
		if _, ok := routes[key]; !ok {
			t.Errorf("docs/API.md names %s, which is no route", key)
		}
	}
	for key := range routes {
		if !named[key] {
			t.Errorf("docs/API.md does not name the route %s", key)
		}
	}
}
