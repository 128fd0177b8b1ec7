package result

import (
	"fmt"
	"strings"
)

// TrialNames gives every trial of a run a unique, file-safe name (for its
// charts and anchors): scenario, fault, rule, persistence strategy when it is
// not the default RDB, and repetition.
func TrialNames(run *Run) []string {
	seen := map[string]int{}
	out := make([]string, len(run.Trials))
	for i := range run.Trials {
		t := &run.Trials[i]
		name := fmt.Sprintf("%s-%s-%s", t.Scenario, t.Fault, t.Rule)
		if t.Persistence != "" && t.Persistence != "rdb" {
			name += "-" + t.Persistence
		}
		base := Slug(fmt.Sprintf("%s-%d", name, t.Index))
		seen[base]++
		if n := seen[base]; n > 1 {
			base = fmt.Sprintf("%s-%d", base, n)
		}
		out[i] = base
	}
	return out
}

// PlotFiles are the charts a report draws for the trial named name, relative
// to the run directory: its timeline and its latency over time.
func PlotFiles(name string) []string {
	return []string{"plots/timeline-" + name + ".png", "plots/latency-" + name + ".png"}
}

// NamePlots records in every trial the chart files its report will have, so
// that result.json names them before any report is rendered.
func (run *Run) NamePlots() {
	for i, name := range TrialNames(run) {
		run.Trials[i].Files.Plots = PlotFiles(name)
	}
}

// Slug lowers s to letters, digits, dots and underscores, one dash between.
func Slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' || r == '_' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteRune('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}
