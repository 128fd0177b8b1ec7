package check_test

import (
	"math"
	"slices"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
)

// oracle applies DESIGN.md's definitions to in the slow, literal way, written
// without looking at Classify's passes: F is feasible when every survivor was
// sent before it and every lost acknowledged write was acknowledged after it;
// the bracket is the feasible set, found by trying a point in every gap
// between the instants involved. Quadratic. It fills every field but the
// human sentences (AnomalyExamples, StaleLoad.Example).
func oracle(in check.Input) check.Classification {
	var c check.Classification
	c.Writes, c.Unexpected = len(in.Ops), in.Unexpected
	var survivorsSent, lostDone []time.Duration // writes the old server saw
	old := func(op loadgen.Op) bool { return in.Replacement == 0 || op.Sent < in.Replacement }
	for i, op := range in.Ops {
		f := in.Found[i]
		good := f.Present && f.Match
		if f.Present && !good {
			c.Corrupt++
		}
		switch op.Outcome {
		case loadgen.OK:
			c.Acked++
		case loadgen.Fail:
			c.Failed++
		case loadgen.Unknown:
			c.Unknown++
		}
		isLost := op.Outcome == loadgen.OK && !good
		if isLost {
			c.Lost++
			if !c.HasLost {
				c.LostFirst, c.LostLast, c.HasLost = op.Done, op.Done, true
			}
			c.LostFirst, c.LostLast = min(c.LostFirst, op.Done), max(c.LostLast, op.Done)
		}
		if op.Outcome == loadgen.Unknown && good {
			c.Recovered++
		}
		if op.Outcome == loadgen.Fail && f.Present || isLost && !old(op) {
			c.Anomalies++
		}
		if isLost && old(op) {
			lostDone = append(lostDone, op.Done)
		}
		if good && op.Outcome != loadgen.Fail && old(op) {
			survivorsSent = append(survivorsSent, op.Sent)
		}
	}
	for _, d := range lostDone {
		for _, s := range survivorsSent {
			if s > d {
				c.Anomalies++ // lost, yet a later-sent write survived
				break
			}
		}
	}
	c.Snapshot, c.LossWindow = oracleBrackets(in, survivorsSent, lostDone)
	oracleLastSave(in, &c)
	return c
}

// oracleBrackets finds the feasible set of F by trying one point in each gap
// between the sorted instants (and beyond both ends).
func oracleBrackets(in check.Input, survivorsSent, lostDone []time.Duration) (*check.Bracket, *check.Bracket) {
	feasible := func(m float64) bool {
		for _, s := range survivorsSent {
			if float64(s) >= m {
				return false
			}
		}
		for _, d := range lostDone {
			if float64(d) <= m {
				return false
			}
		}
		return true
	}
	pts := slices.Concat(survivorsSent, lostDone)
	slices.Sort(pts)
	pts = slices.Compact(pts)
	if len(lostDone) == 0 {
		return nil, nil // nothing bounds F from above
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := 0; i <= len(pts); i++ {
		a, b := math.Inf(-1), math.Inf(1)
		if i > 0 {
			a = float64(pts[i-1])
		}
		if i < len(pts) {
			b = float64(pts[i])
		}
		m := a + (b-a)/2
		switch {
		case i == 0:
			m = b - 1
		case i == len(pts):
			m = a + 1
		}
		if feasible(m) {
			lo, hi = min(lo, a), max(hi, b)
		}
	}
	if lo > hi {
		return nil, nil // no instant explains the survivors
	}
	s := &check.Bracket{High: time.Duration(hi), OneSided: len(survivorsSent) == 0, Source: check.SourceClientBracket}
	floor := float64(in.FloorF)
	if in.FloorF != 0 && floor < hi {
		lo = max(lo, floor)
	}
	if math.IsInf(lo, -1) {
		s.LowUnbounded, s.Estimate = true, s.High
	} else {
		s.Low = time.Duration(lo)
		s.Estimate = s.Low + (s.High-s.Low)/2
	}
	var inside []time.Duration
	for _, st := range in.SaveStarts {
		if st < s.High && (s.LowUnbounded || st+time.Millisecond > s.Low) {
			inside = append(inside, max(st, s.Low))
			if s.LowUnbounded {
				inside[len(inside)-1] = st
			}
		}
	}
	if len(inside) > 0 {
		s.Estimate, s.Source = slices.Max(inside), check.SourceServerLog
	}
	if in.TFault == 0 {
		return s, nil
	}
	w := &check.Bracket{Low: in.TFault - s.High, Estimate: in.TFault - s.Estimate, Source: s.Source, OneSided: s.OneSided, HighUnbounded: s.LowUnbounded}
	if !s.LowUnbounded {
		w.High = in.TFault - s.Low
	}
	return s, w
}

// oracleLastSave: the save that ended last; what it must and may hold; and a
// stale load when writes acknowledged before its fork are lost.
func oracleLastSave(in check.Input, c *check.Classification) {
	var saves []check.SaveFork
	for _, s := range in.CompletedSaves {
		if in.Replacement == 0 || s.End < in.Replacement {
			saves = append(saves, s)
		}
	}
	if len(saves) == 0 {
		return
	}
	slices.SortStableFunc(saves, func(a, b check.SaveFork) int {
		if a.End != b.End {
			return int(a.End - b.End)
		}
		return int(a.ForkLow - b.ForkLow)
	})
	last := saves[len(saves)-1]
	c.LastSave = &last
	lostBefore := 0
	for i, op := range in.Ops {
		if in.Replacement != 0 && op.Sent >= in.Replacement {
			continue
		}
		if op.Outcome != loadgen.Fail && op.Sent < last.ForkHigh {
			c.SentBeforeLastSave++
		}
		if op.Outcome == loadgen.OK && op.Done < last.ForkLow {
			c.AckedBeforeLastSave++
			if f := in.Found[i]; !f.Present || !f.Match {
				lostBefore++
			}
		}
	}
	if lostBefore > 0 {
		c.StaleLoad = &check.StaleLoad{Save: last, LostBefore: lostBefore}
	}
}
