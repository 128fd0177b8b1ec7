package check

import "time"

// Bracket is an instant known to lie in (Low, High), with a point estimate.
// All three are offsets from the trial base.
//
// A snapshot bracket is OneSided when no survivor bounds F from below: every
// measured write the old server saw was lost. Its low end is then
// Input.FloorF (which F may equal: [Low, High)), or, with no floor known,
// LowUnbounded (Low is meaningless).
// The loss window mirrors it: OneSided, and HighUnbounded when the snapshot
// is LowUnbounded. The window's Low (TFault minus the latest F possible) is
// then the only proven bound: a breach is proven when it exceeds the
// prediction.
type Bracket struct {
	Low, High, Estimate time.Duration
	Source              string // SourceServerLog or SourceClientBracket: where Estimate came from

	OneSided      bool // no survivor: one side comes from FloorF or is unbounded
	LowUnbounded  bool // nothing bounds the instant from below (Low is meaningless)
	HighUnbounded bool // nothing bounds the instant from above (High is meaningless)
}

// Where a bracket's estimate came from.
const (
	SourceServerLog     = "server-log"     // a save start from the server's log inside the bracket
	SourceClientBracket = "client-bracket" // the bracket's midpoint, or its only bound when one-sided without a floor
)

// logResolution is the precision of the server log's timestamps: a line
// stamped t happened in [t, t+1ms).
const logResolution = time.Millisecond

// brackets builds the snapshot bracket and the loss window from the bounds
// the writes gave. FloorF tightens the low end when it lies below the upper
// one; a floor above every loss contradicts the writes and is ignored.
func brackets(in Input, b bounds) (snapshot, window *Bracket) {
	if !b.haveLost || b.haveSurvivor && b.maxSurvivorSent >= b.minLostDone {
		return nil, nil
	}
	s := &Bracket{High: b.minLostDone, OneSided: !b.haveSurvivor}
	floor := in.FloorF != 0 && in.FloorF < b.minLostDone
	switch {
	case b.haveSurvivor && floor:
		s.Low = max(b.maxSurvivorSent, in.FloorF)
	case b.haveSurvivor:
		s.Low = b.maxSurvivorSent
	case floor:
		s.Low = in.FloorF
	default:
		s.LowUnbounded = true
	}
	s.estimate(in.SaveStarts)
	if in.TFault == 0 {
		return s, nil
	}
	w := &Bracket{
		Low:           in.TFault - s.High,
		Estimate:      in.TFault - s.Estimate,
		Source:        s.Source,
		OneSided:      s.OneSided,
		HighUnbounded: s.LowUnbounded,
	}
	if !s.LowUnbounded {
		w.High = in.TFault - s.Low
	}
	return s, w
}

// estimate picks the bracket's point estimate: the latest save start inside
// it (allowing for the log's ms truncation), else the midpoint; with no low
// end, the high end.
func (b *Bracket) estimate(saveStarts []time.Duration) {
	b.Source = SourceClientBracket
	if b.LowUnbounded {
		b.Estimate = b.High
	} else {
		b.Estimate = b.Low + (b.High-b.Low)/2
	}
	found := false
	for _, s := range saveStarts {
		if s >= b.High || !b.LowUnbounded && s+logResolution <= b.Low {
			continue
		}
		at := s
		if !b.LowUnbounded {
			at = max(s, b.Low)
		}
		if !found || at > b.Estimate {
			b.Estimate, b.Source, found = at, SourceServerLog, true
		}
	}
}
