// Package savepolicy understands Valkey's `save` rules: parsing them from every
// place they are written, scaling them in time, and predicting the loss window
// they buy at a given write rate.
package savepolicy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Default is the rule set the seed deployment runs with.
const Default = "900 1 300 10 60 10000"

// Rule is one `save <seconds> <changes>` point: snapshot when at least Changes
// keys changed and more than Seconds passed since the last save ended.
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

// Parse reads "900 1 300 10 60 10000" (also tolerating the quotes and commas
// people paste). An empty string means no save points, as `save ""` does.
func Parse(s string) (Rules, error) {
	clean := strings.NewReplacer(`"`, " ", "'", " ", ",", " ").Replace(s)
	fields := strings.Fields(clean)
	if len(fields)%2 != 0 {
		return nil, fmt.Errorf("save rules %q: need pairs of <seconds> <changes>, got %d numbers (e.g. \"900 1 300 10 60 10000\")", s, len(fields))
	}
	rules := make(Rules, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		secs, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil || secs <= 0 {
			return nil, fmt.Errorf("save rules %q: seconds %q must be a positive whole number (e.g. \"60 10000\")", s, fields[i])
		}
		changes, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil || changes <= 0 {
			return nil, fmt.Errorf("save rules %q: changes %q must be a positive whole number (e.g. \"60 10000\")", s, fields[i+1])
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
