// Package webhook delivers fleet events (controller/events) to the HTTP
// endpoints operators register: it is an events.Publisher that queues one
// delivery per subscribed webhook in the store, and a worker (Run) that
// sends them, each body signed with HMAC-SHA256 under the webhook's secret
// (the X-Wgfleet-Signature header), retried with exponential backoff up to
// a bounded number of attempts, every outcome kept in the delivery log.
//
// The queue is the store's, so deliveries survive a restart: what was
// pending is sent when the worker runs again. A delivery is sent at least
// once; X-Wgfleet-Delivery, its id, lets a receiver drop a repeat.
package webhook
