// Package events is the controller's vocabulary of things that happened in
// the fleet (a node went offline, a peer expired) and the one way to
// announce them: a Publisher. The poller, the fleet service and the
// lifecycle checks publish; controller/webhook delivers what they publish.
//
// It imports only the standard library, so any controller package may
// publish without depending on who listens.
package events
