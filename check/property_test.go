package check_test

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
)

var propSeed = flag.Uint64("check.seed", 0, "seed for the Classify property tests (0: from the clock, printed on failure)")

// never is the apply instant of a write the old server never applied.
const never = time.Duration(math.MaxInt64)

// world is a random trial with a known truth: when the old server applied
// each write, which snapshot the replacement loaded, and what it did with
// the writes it served.
type world struct {
	in        check.Input
	applied   []time.Duration // on the old server; never when not applied
	f         time.Duration   // fork of the snapshot the replacement loaded
	lastFork  time.Duration   // fork of the last completed save
	stale     bool            // f is older than the last completed save
	postLost  int             // writes the replacement acknowledged and dropped
	perturbed bool            // read-back results scrambled: no truth holds, only the oracle
}

// genWorld builds a world of about n writes on 1-6 connections: pipelines
// of up to 4 writes applied in order inside (Sent, Done), completions
// reordered across connections, stalls, timeouts (unknown, applied or not),
// refusals and failed connects (fail, never applied; the writer then
// reconnects: loadgen never retries a command), a crash at a random instant
// with writes in flight, saves before it (some still running at the crash),
// and a replacement that may load an older snapshot than the last one.
func genWorld(rng *rand.Rand, n int) *world {
	w := &world{}
	preloadFork := time.Duration(1+rng.IntN(5)) * time.Millisecond
	start := preloadFork + time.Millisecond
	conns := 1 + rng.IntN(6)
	for c := 0; c < conns; c++ {
		w.genConn(rng, uint16(c), start+time.Duration(rng.Int64N(int64(2*time.Millisecond))), n/conns+1)
	}
	sents := make([]time.Duration, len(w.in.Ops))
	for i, op := range w.in.Ops {
		sents[i] = op.Sent
	}
	slices.Sort(sents)
	w.in.TFault = sents[len(sents)/10+rng.IntN(len(sents)*8/10+1)] + time.Duration(rng.Int64N(int64(time.Millisecond)))
	if rng.IntN(10) < 7 {
		w.in.Replacement = w.in.TFault + time.Duration(1+rng.IntN(50))*time.Millisecond
	}
	if rng.IntN(10) < 3 {
		w.coarsen(time.Duration(1+rng.IntN(100)) * time.Microsecond)
	}
	w.genSaves(rng, preloadFork, start)
	w.crash(rng)
	w.readBack(rng)
	if rng.IntN(4) == 0 {
		w.perturb(rng)
	}
	// Seq follows the schedule, as the writer numbers its slots.
	order := make([]int, len(w.in.Ops))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(w.in.Ops[a].Intended - w.in.Ops[b].Intended) })
	for seq, i := range order {
		w.in.Ops[i].Seq = uint64(seq + 1)
	}
	return w
}

// genConn appends about m writes issued one batch at a time on connection c.
func (w *world) genConn(rng *rand.Rand, c uint16, t time.Duration, m int) {
	for issued := 0; issued < m; {
		k := 1
		if rng.IntN(10) < 3 {
			k += rng.IntN(4)
		}
		lat := 50*time.Microsecond + time.Duration(rng.Int64N(int64(3*time.Millisecond)))
		if rng.IntN(50) == 0 {
			lat += time.Duration(50+rng.IntN(250)) * time.Millisecond // a stall
		}
		outcome, applyP := loadgen.OK, 1.0
		switch r := rng.IntN(100); {
		case r < 4:
			outcome, applyP = loadgen.Unknown, 0.5 // timed out: applied or not
		case r < 7:
			outcome, applyP = loadgen.Fail, 0 // refused
		case r < 8:
			outcome, applyP, lat = loadgen.Fail, 0, 0 // the connect failed: nothing sent
		}
		at := make([]time.Duration, k)
		for j := range at {
			at[j] = t + 1 + time.Duration(rng.Int64N(int64(max(lat-2, 1))))
		}
		slices.Sort(at) // the server applies a pipeline in order
		for j := range k {
			intended := max(0, t-time.Duration(rng.Int64N(int64(time.Millisecond))))
			w.in.Ops = append(w.in.Ops, loadgen.Op{Conn: c, Intended: intended, Sent: t, Done: t + lat, Outcome: outcome})
			a := never
			if rng.Float64() < applyP {
				a = at[j]
			}
			w.applied = append(w.applied, a)
		}
		issued += k
		t += lat + time.Duration(rng.Int64N(int64(time.Millisecond)))
		if lat == 0 {
			t += 10 * time.Millisecond // the writer pauses before reconnecting
		}
	}
}

// genSaves places the preload's snapshot and up to three saves before the
// fault, picks the one the replacement loaded, and the log's view of them.
func (w *world) genSaves(rng *rand.Rand, preloadFork, start time.Duration) {
	forks := []time.Duration{preloadFork}
	ends := []time.Duration{preloadFork + 500*time.Microsecond}
	span := int64(w.in.TFault-start)/3 + 1
	for t := start; len(forks) < 4; {
		fork := t + time.Duration(rng.Int64N(span))
		end := fork + time.Duration(1+rng.IntN(30))*time.Millisecond
		if end >= w.in.TFault { // a save the crash cut short wrote nothing
			break
		}
		forks, ends, t = append(forks, fork), append(ends, end), end // one save at a time
	}
	for i, fork := range forks {
		sf := check.SaveFork{End: ends[i], Source: "server-log"}
		if rng.IntN(2) == 0 {
			sf.ForkLow = fork.Truncate(time.Millisecond)
			sf.ForkHigh = sf.ForkLow + time.Millisecond
		} else {
			sf.Source = "info"
			sf.ForkLow = fork - 1 - time.Duration(rng.Int64N(int64(5*time.Millisecond)))
			sf.ForkHigh = fork + 1 + time.Duration(rng.Int64N(int64(5*time.Millisecond)))
		}
		w.in.CompletedSaves = append(w.in.CompletedSaves, sf)
		if rng.IntN(10) < 7 {
			w.in.SaveStarts = append(w.in.SaveStarts, fork.Truncate(time.Millisecond))
		}
	}
	last := len(forks) - 1
	w.lastFork, w.f = forks[last], forks[last]
	if last > 0 && rng.IntN(4) == 0 {
		w.f, w.stale = forks[rng.IntN(last)], true
	}
	switch r := rng.IntN(10); {
	case r < 5:
		w.in.FloorF = preloadFork
	case r < 7: // any save no later than the loaded one is a floor too
		w.in.FloorF = forks[rng.IntN(slices.Index(forks, w.f)+1)]
	}
}

// coarsen rounds the client's clock readings to a grain (Sent down, Done
// up, so each write still brackets its apply instant): writes on different
// connections then share instants, and a loss acknowledged at the very
// instant a survivor was sent is common.
func (w *world) coarsen(grain time.Duration) {
	for i := range w.in.Ops {
		op := &w.in.Ops[i]
		op.Intended = op.Intended.Truncate(grain)
		op.Sent = op.Sent.Truncate(grain)
		op.Done = (op.Done + grain - 1).Truncate(grain)
		op.Intended = min(op.Intended, op.Sent)
	}
}

// crash applies the fault: writes in flight become unknown (applied only
// before the crash), writes sent during the outage are refused, writes the
// replacement serves are acknowledged (a few then dropped) or time out.
func (w *world) crash(rng *rand.Rand) {
	for i := range w.in.Ops {
		op := &w.in.Ops[i]
		switch {
		case op.Sent < w.in.TFault && op.Done < w.in.TFault:
		case op.Sent < w.in.TFault:
			if op.Outcome != loadgen.Fail {
				op.Outcome = loadgen.Unknown
			}
			if w.applied[i] >= w.in.TFault {
				w.applied[i] = never
			}
		case w.in.Replacement == 0 || op.Sent < w.in.Replacement:
			op.Outcome, op.Done, w.applied[i] = loadgen.Fail, op.Sent, never
		default:
			w.applied[i] = never // applied by the replacement, not the old server
			if op.Outcome == loadgen.Fail {
				continue
			}
			op.Outcome = loadgen.OK
			if rng.IntN(20) == 0 {
				op.Outcome = loadgen.Unknown
			}
		}
	}
}

// readBack fills Found from the truth: the old server's writes before F,
// and the replacement's own.
func (w *world) readBack(rng *rand.Rand) {
	w.in.Found = make([]check.Found, len(w.in.Ops))
	for i, op := range w.in.Ops {
		present := w.applied[i] < w.f
		if w.in.Replacement != 0 && op.Sent >= w.in.Replacement {
			switch op.Outcome {
			case loadgen.OK:
				present = rng.IntN(30) != 0
				if !present {
					w.postLost++
				}
			case loadgen.Unknown:
				present = rng.IntN(2) == 0
			}
		}
		w.in.Found[i] = check.Found{Present: present, Match: present}
	}
}

// perturb scrambles a few read-back results (a foreign writer, a stale
// file, corruption): the truth no longer holds, the oracle still must.
func (w *world) perturb(rng *rand.Rand) {
	w.perturbed = true
	for range 1 + rng.IntN(3) {
		i := rng.IntN(len(w.in.Found))
		switch rng.IntN(3) {
		case 0:
			w.in.Found[i] = check.Found{}
		case 1:
			w.in.Found[i] = check.Found{Present: true, Match: true}
		case 2:
			w.in.Found[i] = check.Found{Present: true}
		}
	}
}

// TestClassifyProperties checks Classify on thousands of random worlds:
// every field against the oracle, and, where the read-back is the truth's,
// the brackets contain F and TFault-F, the counts match the truth, a stale
// load is found exactly when the truth says it shows, and the last save's
// bounds hold its true count.
func TestClassifyProperties(t *testing.T) {
	seed := *propSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	cases := 3000
	if testing.Short() {
		cases = 300
	}
	seen := map[string]int{}
	for i := range cases {
		w := genWorld(rand.New(rand.NewPCG(seed, uint64(i))), 10+i%90)
		got := check.Classify(w.in)
		tag := fmt.Sprintf("seed %d case %d (rerun: go test ./check -run TestClassifyProperties -check.seed %d)", seed, i, seed)
		compareOracle(t, tag, got, oracle(w.in))
		if !w.perturbed {
			compareTruth(t, tag, w, got)
		}
		tally(seen, w, got)
		if t.Failed() {
			t.Fatalf("stopping at %s", tag)
		}
	}
	// The generator must reach every case the properties talk about.
	for _, k := range []string{"two-sided", "one-sided floor", "one-sided unbounded", "no bracket", "anomalies", "stale", "replacement", "recovered"} {
		if seen[k] < cases/100 {
			t.Errorf("only %d of %d worlds were %q: the generator misses a case (%v)", seen[k], cases, k, seen)
		}
	}
	t.Logf("seed %d: %v", seed, seen)
}

func tally(seen map[string]int, w *world, c check.Classification) {
	switch s := c.Snapshot; {
	case s == nil:
		seen["no bracket"]++
	case !s.OneSided:
		seen["two-sided"]++
	case s.LowUnbounded:
		seen["one-sided unbounded"]++
	default:
		seen["one-sided floor"]++
	}
	if c.Anomalies > 0 {
		seen["anomalies"]++
	}
	if c.StaleLoad != nil {
		seen["stale"]++
	}
	if w.in.Replacement != 0 {
		seen["replacement"]++
	}
	if c.Recovered > 0 {
		seen["recovered"]++
	}
}

// compareOracle wants every field equal to the oracle's, and as many
// examples as anomalies (up to five).
func compareOracle(t *testing.T, tag string, got, want check.Classification) {
	t.Helper()
	if n := min(got.Anomalies, 5); len(got.AnomalyExamples) != n {
		t.Errorf("%s: %d anomaly examples for %d anomalies", tag, len(got.AnomalyExamples), got.Anomalies)
	}
	if got.StaleLoad != nil && !strings.Contains(got.StaleLoad.Example, "older than the last completed save") {
		t.Errorf("%s: stale load example %q does not say what happened", tag, got.StaleLoad.Example)
	}
	got.AnomalyExamples = nil
	if got.StaleLoad != nil {
		sl := *got.StaleLoad
		sl.Example = ""
		got.StaleLoad = &sl
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", tag, describe(got), describe(want))
	}
}

func describe(c check.Classification) string {
	s := fmt.Sprintf("%+v", c)
	for _, p := range []struct {
		name string
		v    any
	}{{"snapshot", c.Snapshot}, {"window", c.LossWindow}, {"last save", c.LastSave}, {"stale", c.StaleLoad}} {
		if !reflect.ValueOf(p.v).IsNil() {
			s += fmt.Sprintf(" %s=%+v", p.name, reflect.ValueOf(p.v).Elem().Interface())
		}
	}
	return s
}

// compareTruth holds Classify to what the world really did.
func compareTruth(t *testing.T, tag string, w *world, c check.Classification) {
	t.Helper()
	in := &w.in
	var lost, recovered, survivors, oldLost, inLastSave, staleShows int
	last := *c.LastSave
	for i, op := range in.Ops {
		old := in.Replacement == 0 || op.Sent < in.Replacement
		present := in.Found[i].Present
		switch {
		case op.Outcome == loadgen.OK && !present:
			lost++
		case op.Outcome == loadgen.Unknown && present:
			recovered++
		}
		if !old {
			continue
		}
		if w.applied[i] < w.f {
			survivors++
		}
		if op.Outcome == loadgen.OK && w.applied[i] >= w.f {
			oldLost++
			if op.Done < last.ForkLow {
				staleShows++
			}
		}
		if w.applied[i] < w.lastFork {
			inLastSave++
		}
	}
	if c.Lost != lost || c.Recovered != recovered || c.Anomalies != w.postLost || c.Corrupt != 0 {
		t.Errorf("%s: lost %d recovered %d anomalies %d corrupt %d; the truth: %d, %d, %d, 0", tag, c.Lost, c.Recovered, c.Anomalies, c.Corrupt, lost, recovered, w.postLost)
	}
	checkContains(t, tag, w, c, oldLost > 0, survivors == 0)
	if (c.StaleLoad != nil) != (staleShows > 0) || !w.stale && c.StaleLoad != nil {
		t.Errorf("%s: stale load %+v; the truth: loaded an older snapshot %v, %d lost writes acknowledged before the last fork", tag, c.StaleLoad, w.stale, staleShows)
	}
	if c.AckedBeforeLastSave > inLastSave || inLastSave > c.SentBeforeLastSave {
		t.Errorf("%s: last save holds %d of the writes, outside the bounds [%d, %d]", tag, inLastSave, c.AckedBeforeLastSave, c.SentBeforeLastSave)
	}
}

// checkContains: a bracket exactly when a loss bounds F, one-sided exactly
// when no survivor does, and F and TFault-F inside.
func checkContains(t *testing.T, tag string, w *world, c check.Classification, bounded, oneSided bool) {
	t.Helper()
	s, lw := c.Snapshot, c.LossWindow
	if (s != nil) != bounded || lw == nil && s != nil {
		t.Errorf("%s: snapshot %+v window %+v; want brackets: %v", tag, s, lw, bounded)
		return
	}
	if s == nil {
		return
	}
	if s.OneSided != oneSided {
		t.Errorf("%s: one-sided %v, the truth %v", tag, s.OneSided, oneSided)
	}
	if !(s.LowUnbounded || s.Low <= w.f) || w.f >= s.High {
		t.Errorf("%s: snapshot %+v misses F=%v", tag, *s, w.f)
	}
	rpo := w.in.TFault - w.f
	if lw.Low >= rpo || !(lw.HighUnbounded || rpo <= lw.High) {
		t.Errorf("%s: loss window %+v misses TFault-F=%v", tag, *lw, rpo)
	}
	if s.LowUnbounded && w.in.FloorF != 0 {
		t.Errorf("%s: unbounded below although the floor %v is known", tag, w.in.FloorF)
	}
}
