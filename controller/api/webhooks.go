package api

import (
	"net/http"
	"strconv"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/webhook"
)

// hooks is the webhook dispatcher, or an error when the API runs without
// one.
func (s *server) hooks() (*webhook.Dispatcher, error) {
	if s.webhooks == nil {
		return nil, &requestError{kind: errUnavailable, msg: "webhooks are not served by this controller"}
	}
	return s.webhooks, nil
}

// listWebhooks: GET /api/webhooks, never a secret.
func (s *server) listWebhooks(r *http.Request) (result, error) {
	h, err := s.hooks()
	if err != nil {
		return result{}, err
	}
	list, err := h.List(r.Context())
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(list)), nil
}

// webhookEvents: GET /api/webhooks/events, the events a webhook may take.
func (s *server) webhookEvents(r *http.Request) (result, error) {
	return success("", events.Types()), nil
}

// createWebhook: POST /api/webhooks {"url", "events", "secret"}.
func (s *server) createWebhook(r *http.Request) (result, error) {
	h, err := s.hooks()
	if err != nil {
		return result{}, err
	}
	in, err := decodeBody(r, decodeJSON[webhook.Input])
	if err != nil {
		return result{}, err
	}
	v, err := h.Create(r.Context(), actor(r), in)
	if err != nil {
		return result{}, err
	}
	return created("webhook created", v), nil
}

// deleteWebhook: DELETE /api/webhooks/{id}, with its deliveries.
func (s *server) deleteWebhook(r *http.Request) (result, error) {
	h, err := s.hooks()
	if err != nil {
		return result{}, err
	}
	id, err := pathID(r, "webhook")
	if err != nil {
		return result{}, err
	}
	if err := h.Delete(r.Context(), actor(r), id); err != nil {
		return result{}, err
	}
	return success("webhook deleted", nil), nil
}

// testWebhook: POST /api/webhooks/{id}/test sends a sample event now and
// answers the delivery; like a connection test, the answer is 200 with
// status false when the receiver did not take it.
func (s *server) testWebhook(r *http.Request) (result, error) {
	h, err := s.hooks()
	if err != nil {
		return result{}, err
	}
	id, err := pathID(r, "webhook")
	if err != nil {
		return result{}, err
	}
	d, err := h.Test(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	v := webhook.DeliveryOf(d)
	if v.State != "delivered" {
		return result{status: http.StatusOK, message: "the receiver did not take the test event: " + v.LastError, data: v, failed: true}, nil
	}
	return success("test event delivered (HTTP "+strconv.Itoa(v.LastStatus)+")", v), nil
}

// webhookDeliveries: GET /api/webhooks/{id}/deliveries?limit=N, newest
// first.
func (s *server) webhookDeliveries(r *http.Request) (result, error) {
	h, err := s.hooks()
	if err != nil {
		return result{}, err
	}
	id, err := pathID(r, "webhook")
	if err != nil {
		return result{}, err
	}
	limit := 0
	if raw := r.URL.Query().Get("limit"); raw != "" {
		if limit, err = strconv.Atoi(raw); err != nil || limit <= 0 {
			return result{}, badRequestf("query parameter limit must be a positive integer, not %q", shorten(raw))
		}
	}
	list, err := h.Deliveries(r.Context(), id, limit)
	if err != nil {
		return result{}, err
	}
	return success("", orEmpty(list)), nil
}
