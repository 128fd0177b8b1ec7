package loadgen

import (
	"math"
	"testing"
	"time"
)

// sec is s seconds as a Duration.
func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// synth builds one recorded read intended at s seconds, sent at once and
// done after lat; a miss or an error with origin goes to the origin at
// Done.
func synth(s float64, res ReadResult, lat time.Duration, origin bool) Read {
	rd := Read{Intended: sec(s), Sent: sec(s), Done: sec(s) + lat, Result: res, Origin: origin}
	if origin {
		rd.OriginAt = rd.Done
	}
	if res == Miss && origin {
		rd.Fill, rd.FillDone = FillOK, rd.Done+time.Millisecond
	}
	return rd
}

// syntheticReads is a trial with the fault at 10 s: steady hit ratio 0.8
// over [8, 10) with 1 origin request/s, an outage in [10, 11), then bins of
// 0.5, 0.75 and 0.8.
func syntheticReads() []Read {
	var reads []Read
	for i := range 5 { // before the steady window: must not count
		reads = append(reads, synth(5+0.5*float64(i), Hit, time.Millisecond, false))
	}
	for i := range 10 { // [8, 10): 8 hits, 2 misses
		res := Hit
		if i == 1 || i == 6 {
			res = Miss
		}
		reads = append(reads, synth(8+0.2*float64(i), res, time.Millisecond, res == Miss))
	}
	for i := range 4 { // [10, 11): the outage, every read fails and falls back
		rd := synth(10+0.2*float64(i), ReadError, 100*time.Millisecond, true)
		rd.Err = ErrRefused
		if i == 3 {
			rd.Err = ErrLoading
		}
		reads = append(reads, rd)
	}
	for i := range 10 { // [11, 12): 5 hits, 5 misses
		res := Hit
		if i%2 == 0 {
			res = Miss
		}
		reads = append(reads, synth(11+0.09*float64(i), res, 2*time.Millisecond, res == Miss))
	}
	for i := range 4 { // [12, 13): 3 of 4
		res := Hit
		if i == 0 {
			res = Miss
		}
		reads = append(reads, synth(12+0.2*float64(i), res, time.Millisecond, res == Miss))
	}
	for i := range 5 { // [13, 14): 4 of 5, latencies 1..5 ms
		res := Hit
		if i == 4 {
			res = Miss
		}
		reads = append(reads, synth(13+0.1*float64(i), res, time.Duration(i+1)*time.Millisecond, res == Miss))
	}
	return reads
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestSummarizeReadsPinsEveryFigure(t *testing.T) {
	reads := syntheticReads()
	s := SummarizeReads(reads, ReadSummaryOptions{Fault: sec(10), Bin: time.Second, Steady: 2 * time.Second})
	checks := []struct {
		name      string
		got, want float64
	}{
		{"reads", float64(s.Reads), 38},
		{"hits", float64(s.Hits), 5 + 8 + 5 + 3 + 4},
		{"misses", float64(s.Misses), 2 + 5 + 1 + 1},
		{"errors", float64(s.Errors), 4},
		{"refused", float64(s.ErrorsByKind["refused"]), 3},
		{"loading", float64(s.ErrorsByKind["loading"]), 1},
		{"fills", float64(s.Fills), 2 + 5 + 1 + 1},
		{"origin", float64(s.Origin), 2 + 4 + 5 + 1 + 1},
		{"steady from", s.SteadyFromS, -2},
		{"steady reads", float64(s.SteadyReads), 10},
		{"steady hit ratio", s.SteadyHitRatio, 0.8},
		{"steady origin/s", s.SteadyOriginPerS, 1},
		{"to 90%", s.To90S, 3}, // 0.75 >= 0.72 in [12, 13)
		{"to 99%", s.To99S, 4}, // 0.8 >= 0.792 in [13, 14)
		{"recovery", s.RecoveryS, 4},
		{"origin during recovery", float64(s.OriginDuringRecovery), 4 + 5 + 1 + 1},
		{"origin/s during recovery", s.OriginPerSRecovery, 11.0 / 4},
		{"extra origin", s.ExtraOrigin, 11 - 1*4},
		{"first error", s.FirstErrorS, 0.1},
		{"client back", s.ClientBackS, 1.002}, // first reply after the fault: 11 s + 2 ms
		{"client gap", s.ClientGapS, 1.002},
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !s.Reached90 || !s.Reached99 || !s.RecoveryOK {
		t.Errorf("reached 90%% %v, 99%% %v, recovery %v: want all true", s.Reached90, s.Reached99, s.RecoveryOK)
	}
	// Bins from the first read's (5 s -> -5) to the last one's (13 s -> 3).
	if len(s.Bins) != 9 || s.Bins[0].SinceFaultS != -5 || s.Bins[8].SinceFaultS != 3 {
		t.Fatalf("bins %d from %v to %v, want 9 from -5 to 3", len(s.Bins), s.Bins[0].SinceFaultS, s.Bins[len(s.Bins)-1].SinceFaultS)
	}
	wantRatio := map[float64]float64{-5: 1, -4: 1, -3: 1, -2: 0.8, -1: 0.8, 0: 0, 1: 0.5, 2: 0.75, 3: 0.8}
	for _, b := range s.Bins {
		if want, ok := wantRatio[b.SinceFaultS]; ok && !near(b.HitRatio, want) {
			t.Errorf("bin %v: hit ratio %v, want %v", b.SinceFaultS, b.HitRatio, want)
		}
	}
	last := s.Bins[8]
	if last.LatP50Ms != 3 || last.LatP99Ms != 5 || last.Origin != 1 || last.OriginPerS != 1 {
		t.Errorf("bin 3: p50 %v ms p99 %v ms origin %d (%v/s), want 3, 5, 1 (1/s)", last.LatP50Ms, last.LatP99Ms, last.Origin, last.OriginPerS)
	}
	if out := s.Bins[5]; out.Errors != 4 || out.LatP50Ms != 0 || out.Origin != 4 {
		t.Errorf("outage bin: %d errors, p50 %v, origin %d; want 4 errors, no latency (errors have none), 4 origin", out.Errors, out.LatP50Ms, out.Origin)
	}
}

func TestSummarizeReadsNotRecovered(t *testing.T) {
	reads := syntheticReads()[:5+10+4+10] // stops at 0.5 of steady
	s := SummarizeReads(reads, ReadSummaryOptions{Fault: sec(10), Bin: time.Second, Steady: 2 * time.Second})
	if s.Reached90 || s.Reached99 || s.RecoveryOK {
		t.Fatalf("reached 90%% %v 99%% %v: want neither (best bin after the fault is 0.5 of 0.8)", s.Reached90, s.Reached99)
	}
	// Recovery runs to the last read's intended time, 11.81 s.
	if !near(s.RecoveryS, 1.81) || s.OriginDuringRecovery != 4+5 {
		t.Errorf("recovery %v s with %d origin requests, want 1.81 s and 9", s.RecoveryS, s.OriginDuringRecovery)
	}
}

func TestSummarizeReadsEmptyAndNoErrors(t *testing.T) {
	s := SummarizeReads(nil, ReadSummaryOptions{Fault: sec(1)})
	if s.Reads != 0 || s.ClientBackS != -1 || s.FirstErrorS != -1 || s.Bins != nil {
		t.Errorf("empty: %+v", s)
	}
	reads := []Read{synth(0.5, Hit, time.Millisecond, false), synth(1.5, Hit, time.Millisecond, false)}
	s = SummarizeReads(reads, ReadSummaryOptions{Fault: sec(1), Bin: time.Second})
	if !near(s.ClientBackS, 0.501) || s.FirstErrorS != -1 || s.To99S != 1 || s.SteadyHitRatio != 1 {
		t.Errorf("no errors: client back %v (want 0.501: the first reply after the fault), first error %v (want -1), to 99%% %v (want 1), steady %v", s.ClientBackS, s.FirstErrorS, s.To99S, s.SteadyHitRatio)
	}
}
