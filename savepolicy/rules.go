// Package savepolicy understands Valkey's `save` rules: parsing them from every
// place they are written (a flag, a live server, valkey.conf, the Terraform
// module), scaling them in time, predicting and simulating the loss window
// they buy at a write rate, costing the snapshots on EFS, and tuning them for
// a recovery point objective.
package savepolicy

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// Default is the rule set the seed deployment runs with.
const Default = "900 1 300 10 60 10000"

// ServerDefault is what Valkey 8 runs with when no `save` is configured at
// all (checked: a valkey.conf without save lines reports these).
const ServerDefault = "3600 1 300 100 60 10000"

// maxSeconds keeps every rule representable as a time.Duration (68 years).
const maxSeconds = math.MaxInt32

// Rule is one `save <seconds> <changes>` point: snapshot when at least Changes
// keys changed and more than Seconds passed since the last save ended.
// Changes may be 0 (Valkey accepts it): then the rule saves every Seconds
// whether or not anything changed.
type Rule struct {
	Seconds int64
	Changes int64
}

func (r Rule) String() string { return fmt.Sprintf("%d %d", r.Seconds, r.Changes) }

// Rules is a save configuration in the order it was written (Valkey checks
// them in that order every tick and the first that matches fires).
type Rules []Rule

// String renders the rules the way --save and CONFIG SET take them.
func (rs Rules) String() string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.String()
	}
	return strings.Join(parts, " ")
}

// inputError is a mistake in what the user gave us. It unwraps to
// result.ErrBadInput (exit code 2) without repeating "bad input" in the text,
// because callers add their own prefix naming the flag.
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }
func (e *inputError) Unwrap() error { return result.ErrBadInput }

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// Parse reads "900 1 300 10 60 10000" (also tolerating the quotes and commas
// people paste). An empty string means no save points, as `save ""` does.
// Errors unwrap to result.ErrBadInput.
func Parse(s string) (Rules, error) {
	clean := strings.NewReplacer(`"`, " ", "'", " ", ",", " ").Replace(s)
	return parseFields(s, strings.Fields(clean))
}

// parseFields checks pairs of numbers the way Valkey's config code does
// (seconds >= 1, changes >= 0, plain decimal), with our own upper bounds so
// the model never overflows. src is echoed in errors.
func parseFields(src string, fields []string) (Rules, error) {
	if len(fields)%2 != 0 {
		return nil, badInput("save rules %q: need pairs of <seconds> <changes>, got %d numbers (e.g. \"900 1 300 10 60 10000\")", src, len(fields))
	}
	rules := make(Rules, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		secs, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil || secs < 1 || secs > maxSeconds {
			return nil, badInput("save rules %q: seconds %q must be a whole number from 1 to %d (e.g. \"60 10000\")", src, fields[i], maxSeconds)
		}
		changes, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil || changes < 0 || changes > math.MaxInt32 {
			return nil, badInput("save rules %q: changes %q must be a whole number from 0 to %d (e.g. \"60 10000\")", src, fields[i+1], math.MaxInt32)
		}
		rules = append(rules, Rule{Seconds: secs, Changes: changes})
	}
	return rules, nil
}

// Scale multiplies every rule's seconds by s, rounding to whole seconds and
// never below 1 (Valkey takes integer seconds); change counts are kept, so
// the write rates that exercise each rule scale by 1/s.
func (rs Rules) Scale(s float64) Rules {
	out := make(Rules, len(rs))
	for i, r := range rs {
		secs := int64(math.Round(float64(r.Seconds) * s))
		if secs < 1 {
			secs = 1
		}
		out[i] = Rule{Seconds: secs, Changes: r.Changes}
	}
	return out
}

// ValidateTimeScale rejects scales that would make every rule meaningless.
func ValidateTimeScale(s float64) error {
	if math.IsNaN(s) || s <= 0 || s > 1 {
		return fmt.Errorf("time scale %v: must be in (0, 1], e.g. --time-scale 0.01 turns 900 s into 9 s", s)
	}
	return nil
}

// CheckAimable checks rules a run picks its write rates from (load.rule:
// each, sweep or an index). Valkey accepts both cases refused here, but
// neither gives a rate to aim at: empty rules turn persistence off (no
// snapshot, a restart comes back empty), and a rule with 0 changes that no
// shorter rule pre-empts saves every Seconds whether or not anything changed
// (the server logs "0 changes in 900 seconds. Saving..."), so the rate
// planned for it is 0 writes/s and its trial would measure nothing.
// Errors unwrap to result.ErrBadInput; callers prefix the flag.
func (rs Rules) CheckAimable() error {
	if len(rs) == 0 {
		return badInput(`persistence is off (no save rules: Valkey never snapshots and a restart comes back empty): to measure snapshots pass rules such as %q, or test running without persistence deliberately with --persistence none and the worth-it scenario`, Default)
	}
	for _, r := range rs {
		preempted := slices.ContainsFunc(rs, func(o Rule) bool { return o.Seconds < r.Seconds })
		if r.Changes == 0 && !preempted {
			return badInput(`rule %q saves every %d s whether or not anything changed (Valkey accepts it as a timer), so no write rate makes it the rule that fires and its trial would write nothing: give it a change count (e.g. "%d 1") or pass --rate to write at a rate of your choice`, r, r.Seconds, r.Seconds)
		}
	}
	return nil
}
