package wgrules

import "math"

// MaxKeepalive is the largest persistent keepalive interval, in seconds:
// the configuration protocol carries it as a uint16. 0 turns keepalives
// off.
const MaxKeepalive = math.MaxUint16
