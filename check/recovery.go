package check

import (
	"fmt"
	"time"
)

// Instants are the named moments of one recovery, as the target, the probe
// and the server log saw them. A zero time means the moment was not observed.
type Instants struct {
	Fault       time.Time // the fault was injected (signal sent, API called)
	OldGone     time.Time // the old process exited / the task stopped
	NewStarted  time.Time // the replacement process / task started
	PortAccepts time.Time // first TCP connect to the replacement succeeded
	FirstReply  time.Time // first RESP reply, -LOADING included
	Ready       time.Time // first reply that is not -LOADING
	Serving     time.Time // first successful read of a surviving key
	// ServerLoadSeconds is the server's own "DB loaded from disk: X seconds".
	ServerLoadSeconds float64
	HasServerLoad     bool
}

// Step names, in DESIGN.md's order.
const (
	StepFault       = "fault"
	StepOldGone     = "old_gone"
	StepNewStarted  = "new_started"
	StepPortAccepts = "port_accepts"
	StepFirstReply  = "first_reply"
	StepReady       = "ready"
	StepServing     = "serving"
)

// Step is one observed instant of the timeline.
type Step struct {
	Name string
	At   time.Time
}

// Timeline is the recovery as numbers (seconds) and ordered steps.
type Timeline struct {
	// WarmupS is Ready - NewStarted: process start to first non-LOADING reply.
	WarmupS *float64
	// RTOS is Serving - Fault; nil when the server never served.
	RTOS *float64
	// ServerLoadS is the server's own load time, when its log said.
	ServerLoadS *float64
	// Steps are the observed instants in DESIGN order (missing ones left out).
	Steps []Step
	// Problems name missing steps, steps out of order and disagreements
	// with the server's own log.
	Problems []string
}

// loadSlack is how much shorter than the server's own load time a measured
// warm-up may be before the two disagree: the log's ms truncation plus
// clock reads on either side.
const loadSlack = 10 * time.Millisecond

// Recovery turns the instants into the timeline: warm-up, RTO, the steps in
// order, and what is missing or out of order (e.g. a replacement that
// started before the old process was gone: two writers of one dump.rdb).
func Recovery(in Instants) Timeline {
	var tl Timeline
	named := []Step{
		{StepFault, in.Fault},
		{StepOldGone, in.OldGone},
		{StepNewStarted, in.NewStarted},
		{StepPortAccepts, in.PortAccepts},
		{StepFirstReply, in.FirstReply},
		{StepReady, in.Ready},
		{StepServing, in.Serving},
	}
	base := in.Fault
	if base.IsZero() {
		base = firstNonZero(named)
	}
	var last *Step
	for i := range named {
		s := &named[i]
		if s.At.IsZero() {
			tl.Problems = append(tl.Problems, fmt.Sprintf("no %s instant", s.Name))
			continue
		}
		if last != nil && s.At.Before(last.At) {
			tl.Problems = append(tl.Problems, fmt.Sprintf("%s at %s comes before %s at %s",
				s.Name, rel(s.At, base), last.Name, rel(last.At, base)))
		}
		tl.Steps = append(tl.Steps, *s)
		last = s
	}
	if !in.Ready.IsZero() && !in.NewStarted.IsZero() {
		tl.WarmupS = seconds(in.Ready.Sub(in.NewStarted))
	}
	if !in.Serving.IsZero() && !in.Fault.IsZero() {
		tl.RTOS = seconds(in.Serving.Sub(in.Fault))
	}
	if in.HasServerLoad {
		load := in.ServerLoadSeconds
		tl.ServerLoadS = &load
		if tl.WarmupS != nil && *tl.WarmupS < load-loadSlack.Seconds() {
			tl.Problems = append(tl.Problems, fmt.Sprintf("warm-up %.3fs is shorter than the server's own load time %.3fs: the instants are wrong",
				*tl.WarmupS, load))
		}
	}
	return tl
}

func firstNonZero(steps []Step) time.Time {
	for _, s := range steps {
		if !s.At.IsZero() {
			return s.At
		}
	}
	return time.Time{}
}

func seconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
}

// rel renders t relative to base ("+1.234s").
func rel(t, base time.Time) string {
	return fmt.Sprintf("%+.3fs", t.Sub(base).Seconds())
}
