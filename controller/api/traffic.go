package api

import (
	"net/http"
	"strings"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/traffic"
)

// trafficRange reads ?range= (24h when absent); an unknown range is 400
// naming the ones there are.
func trafficRange(r *http.Request, maxSpanOK func(traffic.Range) bool) (traffic.Range, error) {
	name := r.URL.Query().Get("range")
	if name == "" {
		name = "24h"
	}
	var names []string
	for _, tr := range traffic.Ranges() {
		if maxSpanOK(tr) {
			names = append(names, tr.Name)
		}
	}
	tr, ok := traffic.ParseRange(name)
	if !ok || !maxSpanOK(tr) {
		return tr, badFieldf("range", "range must be one of %s, not %q", strings.Join(names, ", "), shorten(name))
	}
	return tr, nil
}

func anyRange(traffic.Range) bool { return true }

// history is the traffic service, or an error when the API runs without
// one.
func (s *server) history() (*traffic.Service, error) {
	if s.traffic == nil {
		return nil, &requestError{kind: errUnavailable, msg: "traffic history is not served by this controller"}
	}
	return s.traffic, nil
}

// peerTraffic: GET /api/peers/{id}/traffic?range=24h|7d|30d|1y.
func (s *server) peerTraffic(r *http.Request) (result, error) {
	h, err := s.history()
	if err != nil {
		return result{}, err
	}
	id, err := pathID(r, "peer")
	if err != nil {
		return result{}, err
	}
	tr, err := trafficRange(r, anyRange)
	if err != nil {
		return result{}, err
	}
	series, err := h.Peer(r.Context(), id, tr)
	if err != nil {
		return result{}, err
	}
	return success("", series), nil
}

// nodeTraffic: GET /api/nodes/{id}/traffic?range=24h|7d|30d|1y.
func (s *server) nodeTraffic(r *http.Request) (result, error) {
	h, err := s.history()
	if err != nil {
		return result{}, err
	}
	id, err := pathID(r, "node")
	if err != nil {
		return result{}, err
	}
	tr, err := trafficRange(r, anyRange)
	if err != nil {
		return result{}, err
	}
	series, err := h.Node(r.Context(), id, tr)
	if err != nil {
		return result{}, err
	}
	return success("", series), nil
}

// nodeTrafficTotals: GET /api/traffic/nodes?range=24h|7d|30d, every
// node's totals (the node cards' figures).
func (s *server) nodeTrafficTotals(r *http.Request) (result, error) {
	h, err := s.history()
	if err != nil {
		return result{}, err
	}
	tr, err := trafficRange(r, func(tr traffic.Range) bool { return tr.Span <= store.KeepTrafficHours })
	if err != nil {
		return result{}, err
	}
	totals, err := h.NodeTotals(r.Context(), tr)
	if err != nil {
		return result{}, err
	}
	return success("", totals), nil
}
