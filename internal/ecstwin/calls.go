package ecstwin

import (
	"slices"
	"time"
)

// FailCalls makes the next n calls of operation (any operation when empty)
// fail with the AWS error code, e.g. ThrottlingException or
// AccessDeniedException; n < 0 fails every such call from now on.
func (tw *Twin) FailCalls(operation, code string, n int) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.failRules = append(tw.failRules, &failRule{op: operation, code: code, remaining: n})
}

// Call is one API request the twin received.
type Call struct {
	At        time.Time `json:"at"`
	Service   string    `json:"service"` // ecs, logs, cloudwatch
	Operation string    `json:"operation"`
	Input     string    `json:"input"`           // request body as JSON (CBOR converted)
	Error     string    `json:"error,omitempty"` // error code returned, "" on success
}

// ReadOnly reports whether the operation only reads state
// (Describe*, List*, Get*, Filter*).
func (c Call) ReadOnly() bool {
	for _, p := range []string{"Describe", "List", "Get", "Filter"} {
		if len(c.Operation) >= len(p) && c.Operation[:len(p)] == p {
			return true
		}
	}
	return false
}

// Calls returns every request received so far, in arrival order.
func (tw *Twin) Calls() []Call {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return slices.Clone(tw.calls)
}

// Metric is one datum received by PutMetricData.
type Metric struct {
	Namespace  string
	Name       string
	Dimensions map[string]string
	Value      float64
	Unit       string
	Timestamp  time.Time
}

// Metrics returns every datum published so far.
func (tw *Twin) Metrics() []Metric {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return slices.Clone(tw.metrics)
}
