// Package slo parses service-level objectives such as "loss_window<=65s" or
// "lost_on_stop==0" and evaluates them against a trial of result.json. The
// runner stores the checks in Trial.Checks; `valkey-chaos report --slo`
// re-evaluates a finished run.
package slo

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// SLO is one parsed objective: Metric Op Limit. Limits of duration metrics
// are in seconds, compared at the time scale the run used (as every duration
// in result.json is).
type SLO struct {
	Expr   string  // normalised, e.g. "loss_window<=65s"
	Metric string  // e.g. "loss_window"
	Op     string  // <=, <, >=, >, ==, !=
	Limit  float64 // seconds for durations, a count otherwise
}

func (s SLO) String() string { return s.Expr }

type kind int

const (
	duration kind = iota
	count
)

// metric reads one number off a trial. applies is false when the metric says
// nothing about this trial (lost_on_stop on a crash); known is false when the
// trial has no value (an RTO of null: the cache never served again).
type metric struct {
	kind  kind
	help  string
	value func(t *result.Trial) (v float64, applies, known bool)
	// bracket, when set, says the value is only known to lie in [lo, hi]
	// (ok): the check is then decided by the ends, never by the estimate.
	bracket func(t *result.Trial) (lo, hi float64, ok bool)
}

var metrics = map[string]metric{
	"loss_window": {kind: duration, help: "the loss window (t_fault - snapshot instant), decided by its bracket's ends unless the server log pins it; 0 when nothing was lost", value: func(t *result.Trial) (float64, bool, bool) {
		if t.LossWindowS == nil {
			return 0, true, t.Lost == 0 && readBack(t)
		}
		return t.LossWindowS.Estimate, true, true
	}, bracket: lossWindowBracket},
	"loss_window_high": {kind: duration, help: "upper end of the loss-window bracket", value: func(t *result.Trial) (float64, bool, bool) {
		if t.LossWindowS == nil {
			return 0, true, t.Lost == 0 && readBack(t)
		}
		return t.LossWindowS.High, true, true
	}},
	"rto": {kind: duration, help: "fault to first successful read of a surviving key (rto_s)", value: func(t *result.Trial) (float64, bool, bool) {
		return deref(t.RTOS)
	}},
	"warmup": {kind: duration, help: "new process start to first non-LOADING reply (warmup_s)", value: func(t *result.Trial) (float64, bool, bool) {
		return deref(t.WarmupS)
	}},
	"server_load": {kind: duration, help: `the server's own "DB loaded from disk" time (server_load_s)`, value: func(t *result.Trial) (float64, bool, bool) {
		return deref(t.ServerLoadS)
	}},
	"final_save": {kind: duration, help: "final save on a graceful stop (final_save_s); stop and rolling-deploy trials only", value: func(t *result.Trial) (float64, bool, bool) {
		if !graceful(t) {
			return 0, false, false
		}
		return deref(t.FinalSaveS)
	}},
	"lost": {kind: count, help: "acknowledged writes absent or different after recovery", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Lost), true, readBack(t)
	}},
	"lost_on_stop": {kind: count, help: "lost, on graceful-stop trials only (stop, rolling-deploy)", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Lost), graceful(t), readBack(t)
	}},
	"lost_on_crash": {kind: count, help: "lost, on crash trials only", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Lost), t.Fault == "crash", readBack(t)
	}},
	"anomalies": {kind: count, help: "consistency anomalies (survivors not a point-in-time prefix)", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Anomalies), true, readBack(t)
	}},
	"corrupt": {kind: count, help: "keys that came back with a wrong value", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Corrupt), true, readBack(t)
	}},
	"unexpected": {kind: count, help: "keys under the run prefix that were never written", value: func(t *result.Trial) (float64, bool, bool) {
		return float64(t.Unexpected), true, readBack(t)
	}},
}

// lossWindowBracket: a loss window the server log does not pin is known
// only to lie within its bracket (client or one-sided); its estimate is a
// midpoint or a guess, no measurement.
func lossWindowBracket(t *result.Trial) (lo, hi float64, ok bool) {
	w := t.LossWindowS
	if w == nil || t.Lost == 0 || t.SnapshotSource == result.SourceServerLog && !w.OneSided {
		return 0, 0, false
	}
	return w.Low, w.High, true
}

// graceful: the old server got SIGTERM and its final save (a stop, or a
// rolling deployment's stop of the old task).
func graceful(t *result.Trial) bool { return target.FaultKind(t.Fault).Graceful() }

// readBack is false when the trial never read its keys back (the
// replacement never started, or the run was cut short before): counts of
// what was lost are then unknown, not 0.
func readBack(t *result.Trial) bool {
	return t.ReplacementExited == "" && t.Unread == ""
}

func deref(p *float64) (float64, bool, bool) {
	if p == nil {
		return 0, true, false
	}
	return *p, true, true
}

// Metrics lists the metric names Parse accepts, sorted.
func Metrics() []string {
	names := make([]string, 0, len(metrics))
	for n := range metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Describe explains a metric in one line ("" for an unknown name).
func Describe(name string) string { return metrics[name].help }

// IsDuration reports whether the metric is measured in seconds.
func IsDuration(name string) bool {
	m, ok := metrics[name]
	return ok && m.kind == duration
}

// ops in match order: two-character operators before their prefixes.
var ops = []string{"<=", ">=", "==", "!=", "<", ">"}

// Parse reads "metric op value", e.g. "loss_window<=65s", "rto < 30s",
// "lost_on_stop==0". Duration metrics need a unit (ms, s, m, h or a Go
// duration such as 1m30s); counts take a whole number.
func Parse(expr string) (SLO, error) {
	s := strings.TrimSpace(expr)
	at, op := -1, ""
	for _, o := range ops {
		if i := strings.Index(s, o); i >= 0 && (at < 0 || i < at) {
			at, op = i, o
		}
	}
	if at < 0 {
		return SLO{}, bad(expr, "no comparison; write it as <metric><op><value> with op one of <= < >= > == !=, e.g. loss_window<=65s")
	}
	name := strings.TrimSpace(s[:at])
	value := strings.TrimSpace(s[at+len(op):])
	m, ok := metrics[name]
	if !ok {
		return SLO{}, bad(expr, fmt.Sprintf("unknown metric %q; valid metrics: %s", name, strings.Join(Metrics(), ", ")))
	}
	if value == "" {
		return SLO{}, bad(expr, "missing value after "+op)
	}
	var limit float64
	switch m.kind {
	case duration:
		if _, err := strconv.ParseFloat(value, 64); err == nil {
			return SLO{}, bad(expr, fmt.Sprintf("%s is a duration: add a unit, e.g. %ss", name, value))
		}
		d, err := time.ParseDuration(value)
		if err != nil {
			return SLO{}, bad(expr, fmt.Sprintf("%q is not a duration (e.g. 65s, 500ms, 2m)", value))
		}
		if d < 0 {
			return SLO{}, bad(expr, "a duration limit cannot be negative")
		}
		limit = d.Seconds()
		value = formatSeconds(limit)
	case count:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n < 0 {
			return SLO{}, bad(expr, fmt.Sprintf("%s is a count: the value must be a whole number >= 0, got %q", name, value))
		}
		limit = float64(n)
	}
	return SLO{Expr: name + op + value, Metric: name, Op: op, Limit: limit}, nil
}

// ParseAll parses every expression, stopping at the first bad one.
func ParseAll(exprs []string) ([]SLO, error) {
	out := make([]SLO, 0, len(exprs))
	for _, e := range exprs {
		s, err := Parse(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func bad(expr, why string) error {
	return fmt.Errorf("%w: SLO %q: %s", result.ErrBadInput, expr, why)
}

// Format renders an observed value of a metric for people: durations with
// their unit and sensible precision ("4.93 s", "12.0 ms"), counts as numbers.
func Format(metric string, v float64) string {
	if IsDuration(metric) {
		return Seconds(v)
	}
	return fmt.Sprintf("%g", v)
}

// Observed renders what a check observed: "null (not observed)" when
// unknown, the estimate and its bracket when the metric is bracketed
// ("1.9 s in [1.8 s, 2.6 s]"), else the value.
func Observed(c result.Check) string {
	switch {
	case c.Observed == nil:
		return "null (not observed)"
	case c.ObservedLow != nil && c.ObservedHigh != nil:
		return fmt.Sprintf("%s in [%s, %s]", Format(c.Metric, *c.Observed), Format(c.Metric, *c.ObservedLow), Format(c.Metric, *c.ObservedHigh))
	}
	return Format(c.Metric, *c.Observed)
}

// Seconds prints a duration in seconds with sensible precision.
func Seconds(s float64) string {
	switch a := math.Abs(s); {
	case a == 0:
		return "0 s"
	case a < 0.1:
		return fmt.Sprintf("%.1f ms", s*1000)
	case a < 100:
		return fmt.Sprintf("%.3g s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

// formatSeconds renders a limit compactly: 65 -> "65s", 0.5 -> "0.5s".
func formatSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', -1, 64) + "s"
}

// Observe reads a metric off a trial. applies is false when the metric does
// not concern this trial; known is false when the trial recorded null.
func Observe(t *result.Trial, name string) (v float64, applies, known bool) {
	m, ok := metrics[name]
	if !ok {
		return 0, false, false
	}
	return m.value(t)
}

// Evaluate checks every SLO against the trial. SLOs whose metric does not
// apply (lost_on_stop on a crash trial) are skipped; a metric the trial
// recorded as null (rto_s: null, the cache never served; lost when nothing
// could be read back) fails with Observed null: unknown, never 0, and
// never a pass.
func Evaluate(t *result.Trial, slos []SLO) []result.Check {
	var out []result.Check
	for _, s := range slos {
		v, applies, known := Observe(t, s.Metric)
		if !applies {
			continue
		}
		c := result.Check{Name: s.Expr, Metric: s.Metric, Op: s.Op, Limit: s.Limit}
		switch {
		case !known:
			// Observed stays null: the check fails as unknown.
		case metrics[s.Metric].bracket != nil:
			c.Observed = &v
			c.Pass = compare(v, s.Op, s.Limit)
			if lo, hi, ok := metrics[s.Metric].bracket(t); ok {
				c.ObservedLow, c.ObservedHigh = &lo, &hi
				decided := false
				c.Pass, decided = compareRange(lo, hi, s.Op, s.Limit)
				c.Undecided = !decided
			}
		default:
			c.Observed = &v
			c.Pass = compare(v, s.Op, s.Limit)
		}
		out = append(out, c)
	}
	return out
}

// compareRange decides "v op limit" for a v known only to lie in [lo, hi]:
// pass when it holds for every such v, fail when for none, else undecided.
// For "<=": lo > limit fails, hi <= limit passes, anything else cannot
// decide.
func compareRange(lo, hi float64, op string, limit float64) (pass, decided bool) {
	if lo == hi {
		return compare(lo, op, limit), true
	}
	switch op {
	case "==":
		return false, limit < lo || limit > hi
	case "!=":
		out := limit < lo || limit > hi
		return out, out
	}
	a, b := compare(lo, op, limit), compare(hi, op, limit)
	return a && b, a == b
}

func compare(v float64, op string, limit float64) bool {
	if math.IsNaN(v) {
		return false
	}
	switch op {
	case "<=":
		return v <= limit
	case "<":
		return v < limit
	case ">=":
		return v >= limit
	case ">":
		return v > limit
	case "==":
		return v == limit
	case "!=":
		return v != limit
	}
	return false
}
