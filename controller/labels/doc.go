// Package labels is the vocabulary of node labels: a Set of key=value
// pairs a node carries ({"region": "eu-west", "provider": "hetzner"}), the
// rules a key and a value follow (Check), and selectors that pick nodes by
// their labels (ParseSelector, Set.Matches). The store, the fleet service,
// the API and enrollment all take the rules from here; none keeps a copy.
//
// The label named Region has a meaning of its own: drain and automatic
// moves keep a peer within its node's region, and the UI groups nodes by
// it.
package labels
