package check_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
)

const ms = time.Millisecond

// w is one synthetic write: outcome, sent and done in ms, and what the
// recovered server holds at its key.
type w struct {
	outcome    loadgen.Outcome
	sent, done time.Duration
	found      string // "" absent, "ok" its own value, "bad" someone else's value
}

func build(ws []w) ([]loadgen.Op, []check.Found) {
	ops := make([]loadgen.Op, len(ws))
	found := make([]check.Found, len(ws))
	for i, x := range ws {
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Intended: x.sent * ms, Sent: x.sent * ms, Done: x.done * ms, Outcome: x.outcome}
		if x.outcome == loadgen.Fail {
			ops[i].Err = loadgen.ErrMisconf
		}
		found[i] = check.Found{Present: x.found != "", Match: x.found == "ok"}
	}
	return ops, found
}

// steady is n ok writes, one every 100 ms from 100 ms, each acked 5 ms
// later; the first `survive` are present.
func steady(n, survive int) []w {
	ws := make([]w, n)
	for i := range ws {
		at := time.Duration(i+1) * 100
		ws[i] = w{outcome: loadgen.OK, sent: at, done: at + 5}
		if i < survive {
			ws[i].found = "ok"
		}
	}
	return ws
}

func with(ws []w, i int, x w) []w {
	out := append([]w(nil), ws...)
	out[i] = x
	return out
}

func TestClassify(t *testing.T) {
	type want struct {
		acked, failed, unknown, lost, recovered, corrupt, anomalies int
		lostSpan                                                    [2]time.Duration // ms; zero: no loss
		snapshot                                                    *msBracket
		window                                                      *msBracket
		example                                                     string // substring of some example
	}
	tests := []struct {
		name       string
		ws         []w
		tFault     time.Duration // ms
		replaced   time.Duration // ms
		floor      time.Duration // ms
		saveStarts []float64     // ms
		want       want
	}{
		{
			name: "crash loses a suffix: bracket between last survivor sent and first loss acked",
			ws:   steady(10, 6), tFault: 1050,
			want: want{acked: 10, lost: 4, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{600, 705, 652.5, check.SourceClientBracket, 0},
				window:   &msBracket{345, 450, 397.5, check.SourceClientBracket, 0}},
		},
		{
			name: "server log save start inside the bracket is the estimate; the latest wins, outside ones are ignored",
			ws:   steady(10, 6), tFault: 1050, saveStarts: []float64{650, 300, 620, 900},
			want: want{acked: 10, lost: 4, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{600, 705, 650, check.SourceServerLog, 0},
				window:   &msBracket{345, 450, 400, check.SourceServerLog, 0}},
		},
		{
			name: "a log time truncated to the ms just below the last survivor still counts",
			ws:   steady(10, 6), tFault: 1050, saveStarts: []float64{599.6},
			want: want{acked: 10, lost: 4, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{600, 705, 600, check.SourceServerLog, 0},
				window:   &msBracket{345, 450, 450, check.SourceServerLog, 0}},
		},
		{
			name: "graceful stop keeps everything: nothing lost, nothing bounds F from above",
			ws:   steady(10, 10), tFault: 1050,
			want: want{acked: 10},
		},
		{
			name: "an unknown write that survived is recovered, not lost, and bounds F from below",
			ws:   with(steady(10, 6), 6, w{outcome: loadgen.Unknown, sent: 700, done: 1700, found: "ok"}), tFault: 1050,
			want: want{acked: 9, unknown: 1, lost: 3, recovered: 1, lostSpan: [2]time.Duration{805, 1005},
				snapshot: &msBracket{700, 805, 752.5, check.SourceClientBracket, 0},
				window:   &msBracket{245, 350, 297.5, check.SourceClientBracket, 0}},
		},
		{
			name: "an unknown write that is absent is neither lost nor recovered",
			ws:   with(steady(10, 6), 6, w{outcome: loadgen.Unknown, sent: 700, done: 1700}), tFault: 1050,
			want: want{acked: 9, unknown: 1, lost: 3, lostSpan: [2]time.Duration{805, 1005},
				snapshot: &msBracket{600, 805, 702.5, check.SourceClientBracket, 0},
				window:   &msBracket{245, 450, 347.5, check.SourceClientBracket, 0}},
		},
		{
			name: "writes in flight across the snapshot: a loss sent before a survivor but acked after it was sent is no anomaly",
			ws: []w{
				{outcome: loadgen.OK, sent: 100, done: 105, found: "ok"},
				{outcome: loadgen.OK, sent: 190, done: 260},              // lost, acked after seq 3 was sent
				{outcome: loadgen.OK, sent: 200, done: 205, found: "ok"}, // applied before the fork
				{outcome: loadgen.OK, sent: 300, done: 305},
			},
			tFault: 400,
			want: want{acked: 4, lost: 2, lostSpan: [2]time.Duration{260, 305},
				snapshot: &msBracket{200, 260, 230, check.SourceClientBracket, 0},
				window:   &msBracket{140, 200, 170, check.SourceClientBracket, 0}},
		},
		{
			name:   "survivors that are not a point-in-time prefix: each loss acked before the last survivor was sent is an anomaly",
			ws:     with(with(with(steady(10, 3), 7, w{outcome: loadgen.OK, sent: 800, done: 805, found: "ok"}), 8, w{outcome: loadgen.OK, sent: 900, done: 905, found: "ok"}), 9, w{outcome: loadgen.OK, sent: 1000, done: 1005, found: "ok"}),
			tFault: 1050,
			want: want{acked: 10, lost: 4, anomalies: 4, lostSpan: [2]time.Duration{405, 705},
				example: "seq 4 was acknowledged at +0.405s and is lost, but seq 10 sent later at +1.000s survived"},
		},
		{
			name: "a failed write that is present is an anomaly",
			ws:   with(steady(5, 5), 2, w{outcome: loadgen.Fail, sent: 300, done: 301, found: "ok"}), tFault: 1050,
			want: want{acked: 4, failed: 1, anomalies: 1, example: "seq 3 failed (misconf, definitely not applied)"},
		},
		{
			name: "a failed write that is absent is fine",
			ws:   with(steady(5, 5), 2, w{outcome: loadgen.Fail, sent: 300, done: 301}), tFault: 1050,
			want: want{acked: 4, failed: 1},
		},
		{
			name: "an acknowledged write holding a foreign value is corrupt and lost",
			ws:   with(steady(10, 6), 8, w{outcome: loadgen.OK, sent: 900, done: 905, found: "bad"}), tFault: 1050,
			want: want{acked: 10, lost: 4, corrupt: 1, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{600, 705, 652.5, check.SourceClientBracket, 0},
				window:   &msBracket{345, 450, 397.5, check.SourceClientBracket, 0}},
		},
		{
			name: "writes the replacement took are left out of the bracket; one it acknowledged and lost is an anomaly",
			ws: append(steady(10, 6),
				w{outcome: loadgen.Fail, sent: 1100, done: 1101},            // refused during the outage
				w{outcome: loadgen.OK, sent: 1500, done: 1502, found: "ok"}, // the replacement serves
				w{outcome: loadgen.OK, sent: 1600, done: 1602}),             // ... and then loses one
			tFault: 1050, replaced: 1300,
			want: want{acked: 12, failed: 1, lost: 5, anomalies: 1, lostSpan: [2]time.Duration{705, 1602},
				snapshot: &msBracket{600, 705, 652.5, check.SourceClientBracket, 0},
				window:   &msBracket{345, 450, 397.5, check.SourceClientBracket, 0},
				example:  "seq 13 was acknowledged at +1.602s, after the replacement started, and is missing"},
		},
		{
			name: "every write lost, no floor: F is bounded from above only, the window from below",
			ws:   steady(5, 0), tFault: 1050,
			want: want{acked: 5, lost: 5, lostSpan: [2]time.Duration{105, 505},
				snapshot: &msBracket{0, 105, 105, check.SourceClientBracket, oneSided | lowUnbounded},
				window:   &msBracket{945, 0, 945, check.SourceClientBracket, oneSided | highUnbounded}},
		},
		{
			name: "every write lost, with the floor: one-sided but bounded both ways",
			ws:   steady(5, 0), tFault: 1050, floor: 50,
			want: want{acked: 5, lost: 5, lostSpan: [2]time.Duration{105, 505},
				snapshot: &msBracket{50, 105, 77.5, check.SourceClientBracket, oneSided},
				window:   &msBracket{945, 1000, 972.5, check.SourceClientBracket, oneSided}},
		},
		{
			name: "every write lost: a save start between the floor and the first loss is the estimate",
			ws:   steady(5, 0), tFault: 1050, floor: 50, saveStarts: []float64{20, 60, 200},
			want: want{acked: 5, lost: 5, lostSpan: [2]time.Duration{105, 505},
				snapshot: &msBracket{50, 105, 60, check.SourceServerLog, oneSided},
				window:   &msBracket{945, 1000, 990, check.SourceServerLog, oneSided}},
		},
		{
			name: "every write lost, no floor: the latest save start below the first loss is the estimate",
			ws:   steady(5, 0), tFault: 1050, saveStarts: []float64{20, 60, 200},
			want: want{acked: 5, lost: 5, lostSpan: [2]time.Duration{105, 505},
				snapshot: &msBracket{0, 105, 60, check.SourceServerLog, oneSided | lowUnbounded},
				window:   &msBracket{945, 0, 990, check.SourceServerLog, oneSided | highUnbounded}},
		},
		{
			name: "a floor above every loss contradicts the writes and is ignored",
			ws:   steady(5, 0), tFault: 1050, floor: 300,
			want: want{acked: 5, lost: 5, lostSpan: [2]time.Duration{105, 505},
				snapshot: &msBracket{0, 105, 105, check.SourceClientBracket, oneSided | lowUnbounded},
				window:   &msBracket{945, 0, 945, check.SourceClientBracket, oneSided | highUnbounded}},
		},
		{
			name: "a floor above the last survivor tightens a two-sided bracket",
			ws:   steady(10, 6), tFault: 1050, floor: 650,
			want: want{acked: 10, lost: 4, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{650, 705, 677.5, check.SourceClientBracket, 0},
				window:   &msBracket{345, 400, 372.5, check.SourceClientBracket, 0}},
		},
		{
			name: "no fault instant: a snapshot bracket but no loss window",
			ws:   steady(10, 6),
			want: want{acked: 10, lost: 4, lostSpan: [2]time.Duration{705, 1005},
				snapshot: &msBracket{600, 705, 652.5, check.SourceClientBracket, 0}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, found := build(tc.ws)
			var starts []time.Duration
			for _, s := range tc.saveStarts {
				starts = append(starts, time.Duration(s*float64(ms)))
			}
			v := check.Classify(check.Input{Ops: ops, Found: found, Unexpected: 2, TFault: tc.tFault * ms, Replacement: tc.replaced * ms, FloorF: tc.floor * ms, SaveStarts: starts})
			got := want{acked: v.Acked, failed: v.Failed, unknown: v.Unknown, lost: v.Lost, recovered: v.Recovered, corrupt: v.Corrupt, anomalies: v.Anomalies}
			exp := tc.want
			exp.lostSpan, exp.snapshot, exp.window, exp.example = [2]time.Duration{}, nil, nil, ""
			if got != exp {
				t.Errorf("counts %+v, want %+v", got, exp)
			}
			if v.Writes != len(tc.ws) || v.Unexpected != 2 {
				t.Errorf("writes %d unexpected %d, want %d and the 2 passed in", v.Writes, v.Unexpected, len(tc.ws))
			}
			if span := tc.want.lostSpan; v.HasLost != (span != [2]time.Duration{}) ||
				v.HasLost && (v.LostFirst != span[0]*ms || v.LostLast != span[1]*ms) {
				t.Errorf("lost span %v..%v (has %v), want %v ms", v.LostFirst, v.LostLast, v.HasLost, span)
			}
			checkBracket(t, "snapshot", v.Snapshot, tc.want.snapshot)
			checkBracket(t, "loss window", v.LossWindow, tc.want.window)
			if tc.want.example != "" && !strings.Contains(strings.Join(v.AnomalyExamples, "\n"), tc.want.example) {
				t.Errorf("examples %q lack %q", v.AnomalyExamples, tc.want.example)
			}
			if v.Anomalies == 0 && len(v.AnomalyExamples) > 0 {
				t.Errorf("examples without anomalies: %q", v.AnomalyExamples)
			}
		})
	}
}

// msBracket is an expected bracket in ms (fractions allowed).
type msBracket struct {
	low, high, est float64
	src            string
	flags          bracketFlags
}

// bracketFlags are a Bracket's booleans, as a set.
type bracketFlags uint8

const (
	oneSided bracketFlags = 1 << iota
	lowUnbounded
	highUnbounded
)

func flagsOf(b *check.Bracket) bracketFlags {
	var f bracketFlags
	if b.OneSided {
		f |= oneSided
	}
	if b.LowUnbounded {
		f |= lowUnbounded
	}
	if b.HighUnbounded {
		f |= highUnbounded
	}
	return f
}

// checkBracket compares got with want.
func checkBracket(t *testing.T, name string, got *check.Bracket, wantMS *msBracket) {
	t.Helper()
	if (got == nil) != (wantMS == nil) {
		t.Errorf("%s = %+v, want %+v (ms)", name, got, wantMS)
		return
	}
	if got == nil {
		return
	}
	toMS := func(d time.Duration) float64 { return float64(d) / float64(ms) }
	if toMS(got.Low) != wantMS.low || toMS(got.High) != wantMS.high || toMS(got.Estimate) != wantMS.est || got.Source != wantMS.src || flagsOf(got) != wantMS.flags {
		t.Errorf("%s = (%v, %v) est %v from %s flags %b; want (%v, %v) est %v from %s flags %b (ms)", name,
			toMS(got.Low), toMS(got.High), toMS(got.Estimate), got.Source, flagsOf(got), wantMS.low, wantMS.high, wantMS.est, wantMS.src, wantMS.flags)
	}
}

func TestClassifyRejectsMismatchedReadBack(t *testing.T) {
	ops, found := build(steady(3, 3))
	v := check.Classify(check.Input{Ops: ops, Found: found[:2]})
	if v.Acked != 0 || len(v.AnomalyExamples) != 1 || !strings.Contains(v.AnomalyExamples[0], "harness error") {
		t.Errorf("mismatched lengths gave %+v, want nothing counted and a harness error", v)
	}
}

// crashHistory is n ok writes at 1M/s, 16 in flight, applied halfway
// through their round trip, after a snapshot forked at `fork`; the crash is
// at 1 s, with one completed save (the fork) and the preload's snapshot as
// the floor. With stale, the replacement loaded the preload's snapshot
// instead: nothing survived.
func crashHistory(n int, fork time.Duration, stale bool) check.Input {
	ops := make([]loadgen.Op, n)
	found := make([]check.Found, n)
	for i := range ops {
		sent := time.Millisecond + time.Duration(i)*time.Microsecond
		ops[i] = loadgen.Op{Seq: uint64(i + 1), Conn: uint16(i % 16), Intended: sent, Sent: sent, Done: sent + 16*time.Microsecond, Outcome: loadgen.OK}
		applied := sent + 8*time.Microsecond
		found[i] = check.Found{Present: applied < fork && !stale, Match: applied < fork && !stale}
	}
	return check.Input{Ops: ops, Found: found, TFault: time.Second + 500*time.Millisecond, FloorF: 500 * time.Microsecond,
		SaveStarts:     []time.Duration{fork.Truncate(time.Millisecond)},
		CompletedSaves: []check.SaveFork{{ForkLow: fork.Truncate(time.Millisecond), ForkHigh: fork.Truncate(time.Millisecond) + time.Millisecond, End: fork + 300*time.Millisecond, Source: "server-log"}}}
}

// TestClassifyLargeHistory checks Classify on a million-op crash history
// against counts taken straight from its construction, fresh and stale, and
// on large random worlds against the brute-force oracle. Speed is
// BenchmarkClassify's business; here allocations must not grow with the
// history (Classify keeps nothing per op).
func TestClassifyLargeHistory(t *testing.T) {
	const n = 1_000_000
	fork := 700*time.Millisecond + 300*time.Microsecond
	applied := func(i int) time.Duration {
		return time.Millisecond + time.Duration(i)*time.Microsecond + 8*time.Microsecond
	}
	var survive, ackedBefore, sentBefore int
	for i := range n {
		if applied(i) < fork {
			survive++
		}
		if applied(i)+8*time.Microsecond < fork.Truncate(time.Millisecond) {
			ackedBefore++
		}
		if applied(i)-8*time.Microsecond < fork.Truncate(time.Millisecond)+time.Millisecond {
			sentBefore++
		}
	}
	for _, stale := range []bool{false, true} {
		in := crashHistory(n, fork, stale)
		c := check.Classify(in)
		wantLost, staleLost := n-survive, 0
		if stale {
			wantLost, staleLost = n, ackedBefore
		}
		if c.Anomalies != 0 || c.Acked != n || c.Lost != wantLost || c.Snapshot == nil || c.LossWindow == nil {
			t.Fatalf("stale %v: %+v, want %d acked, %d lost, no anomaly, a bracket", stale, c, n, wantLost)
		}
		f := fork
		if stale {
			f = in.FloorF
		}
		if s := c.Snapshot; s.Low > f || s.High <= f || s.OneSided != stale || s.LowUnbounded {
			t.Errorf("stale %v: snapshot %+v misses F %v", stale, *s, f)
		}
		if w := c.LossWindow; w.Low >= in.TFault-f || w.High < in.TFault-f || w.HighUnbounded {
			t.Errorf("stale %v: loss window %+v misses %v", stale, *w, in.TFault-f)
		}
		if c.AckedBeforeLastSave != ackedBefore || c.SentBeforeLastSave != sentBefore {
			t.Errorf("stale %v: last save bounds [%d, %d], want [%d, %d]", stale, c.AckedBeforeLastSave, c.SentBeforeLastSave, ackedBefore, sentBefore)
		}
		if (c.StaleLoad != nil) != stale || stale && c.StaleLoad.LostBefore != staleLost {
			t.Errorf("stale %v: stale load %+v, want %d lost before the last fork", stale, c.StaleLoad, staleLost)
		}
	}
	for i := range 3 {
		w := genWorld(rand.New(rand.NewPCG(uint64(i), 42)), 5000)
		compareOracle(t, fmt.Sprintf("large world %d", i), check.Classify(w.in), oracle(w.in))
	}
	small, large := crashHistory(1000, time.Millisecond+700*time.Microsecond, false), crashHistory(100_000, fork, false)
	allocs := func(in check.Input) float64 { return testing.AllocsPerRun(5, func() { check.Classify(in) }) }
	if a, b := allocs(small), allocs(large); b > a {
		t.Errorf("Classify allocates %v times for 1e3 writes but %v for 1e5: it keeps something per write", a, b)
	}
}

// BenchmarkClassify classifies crash histories of 1e5 and 1e6 writes; the
// ns/write metric should stay flat (linear time).
func BenchmarkClassify(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		in := crashHistory(n, time.Millisecond+time.Duration(n*7/10)*time.Microsecond, false)
		b.Run(fmt.Sprintf("writes=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				check.Classify(in)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/write")
		})
	}
}

func TestClassifyLastSave(t *testing.T) {
	save := func(low, end float64) check.SaveFork {
		return check.SaveFork{ForkLow: time.Duration(low * float64(ms)), ForkHigh: time.Duration((low + 1) * float64(ms)), End: time.Duration(end * float64(ms)), Source: "server-log"}
	}
	tests := []struct {
		name           string
		ws             []w
		saves          []check.SaveFork
		replaced       time.Duration // ms
		last           *check.SaveFork
		acked, sent    int
		staleLostCount int // 0: no stale load
		example        string
	}{
		{
			name: "no completed save: nothing to compare",
			ws:   steady(10, 6),
		},
		{
			name: "the replacement loaded the last save: writes acked before its fork survived",
			ws:   steady(10, 6), saves: []check.SaveFork{save(300, 400), save(650, 700)},
			last: ptr(save(650, 700)), acked: 6, sent: 6,
		},
		{
			name: "a write in flight across the fork counts in the upper bound only",
			ws:   steady(10, 6), saves: []check.SaveFork{save(603, 700)},
			last: ptr(save(603, 700)), acked: 5, sent: 6,
		},
		{
			name: "the replacement loaded an older snapshot: writes acked before the last fork are lost",
			ws:   steady(10, 3), saves: []check.SaveFork{save(650, 700), save(350, 400)},
			last: ptr(save(650, 700)), acked: 6, sent: 6, staleLostCount: 3,
			example: "the replacement loaded a snapshot older than the last completed save (forked at +0.650s, server-log): 3 acknowledged writes before that fork are lost, e.g. seq 4 acknowledged at +0.405s",
		},
		{
			name: "every write lost and a save after some of them: stale",
			ws:   steady(10, 0), saves: []check.SaveFork{save(250, 300)},
			last: ptr(save(250, 300)), acked: 2, sent: 2, staleLostCount: 2,
		},
		{
			name: "failed writes are in neither bound; writes sent after the replacement are left out",
			ws: append(with(steady(10, 6), 1, w{outcome: loadgen.Fail, sent: 200, done: 201}),
				w{outcome: loadgen.OK, sent: 1500, done: 1502}),
			saves: []check.SaveFork{save(1200, 1250)}, replaced: 1300,
			last: ptr(save(1200, 1250)), acked: 9, sent: 9, staleLostCount: 4,
		},
		{
			name:  "a save the old server finished after the replacement started is not the one it must load",
			ws:    steady(10, 6),
			saves: []check.SaveFork{save(550, 580), save(750, 800)}, replaced: 790,
			last: ptr(save(550, 580)), acked: 5, sent: 5,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ops, found := build(tc.ws)
			c := check.Classify(check.Input{Ops: ops, Found: found, TFault: 2000 * ms, Replacement: tc.replaced * ms, CompletedSaves: tc.saves})
			if (c.LastSave == nil) != (tc.last == nil) || c.LastSave != nil && *c.LastSave != *tc.last {
				t.Errorf("last save %+v, want %+v", c.LastSave, tc.last)
			}
			if c.AckedBeforeLastSave != tc.acked || c.SentBeforeLastSave != tc.sent {
				t.Errorf("acked before last save %d, sent before %d; want %d and %d", c.AckedBeforeLastSave, c.SentBeforeLastSave, tc.acked, tc.sent)
			}
			switch {
			case tc.staleLostCount == 0 && c.StaleLoad != nil:
				t.Errorf("stale load %+v, want none", c.StaleLoad)
			case tc.staleLostCount != 0 && c.StaleLoad == nil:
				t.Errorf("no stale load, want %d lost before the last fork", tc.staleLostCount)
			case c.StaleLoad != nil:
				if c.StaleLoad.LostBefore != tc.staleLostCount || c.StaleLoad.Save != *tc.last {
					t.Errorf("stale load %+v, want %d lost before %+v", c.StaleLoad, tc.staleLostCount, *tc.last)
				}
				if tc.example != "" && c.StaleLoad.Example != tc.example {
					t.Errorf("example %q, want %q", c.StaleLoad.Example, tc.example)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestKeysLoadedMismatch(t *testing.T) {
	last := &check.SaveFork{ForkLow: 650 * ms, ForkHigh: 651 * ms, End: 700 * ms, Source: "server-log"}
	c := check.Classification{LastSave: last, AckedBeforeLastSave: 5, SentBeforeLastSave: 6}
	tests := []struct {
		name         string
		c            check.Classification
		loaded, othr int64
		want         string // substring; "" consistent
	}{
		{"no last save: nothing to compare", check.Classification{}, 0, 100, ""},
		{"the lower bound", c, 105, 100, ""},
		{"the upper bound", c, 106, 100, ""},
		{"fewer than the save must hold", c, 104, 100, "the replacement loaded a snapshot older than the last completed save: it loaded 104 keys, 4 of them this run's writes, but the save forked at +0.650s holds at least 5 (100 other keys)"},
		{"nothing at all loaded", c, 0, 100, "it loaded 0 keys, 0 of them"},
		{"more than the save may hold", c, 107, 100, "not the last completed save: it loaded 107 keys, 7 of them this run's writes, but the save forked at +0.650s holds at most 6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.c.KeysLoadedMismatch(tc.loaded, tc.othr)
			if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
