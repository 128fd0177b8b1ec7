package savepolicy

import (
	"math"
	"time"
)

// retryDelay is CONFIG_BGSAVE_RETRY_DELAY: after a failed save, a rule may
// fire again only once the whole-second clock is more than 5 s past the
// failed attempt's fork (observed: attempts every 6 s).
const retryDelay = 5

// BGSave describes the background saves the simulation runs.
type BGSave struct {
	// Duration is fork to dump.rdb renamed into place.
	Duration time.Duration
	// Outages are spans when storage is broken: a save whose fork falls in
	// one fails (lastsave is not updated, dirty keeps counting, and the
	// rules retry after CONFIG_BGSAVE_RETRY_DELAY).
	Outages []Outage
}

// Outage is a span of broken storage.
type Outage struct {
	From, To time.Duration
	// FailAfter is how long a failing save runs before it gives up: 0 for an
	// error opening the temp file, up to Duration for a write error late on.
	FailAfter time.Duration
}

// Clock places the simulation against Valkey's two clocks: the whole-second
// unix time the rules compare, and serverCron's 100 ms ticks.
type Clock struct {
	UnixFraction time.Duration // sub-second part of unix time at simulation time 0, in [0, 1s)
	TickPhase    time.Duration // time of the first tick, in [0, Tick)
}

// SimSave is one save attempt in a Simulation.
type SimSave struct {
	Fork    time.Duration // serverCron forked the child
	End     time.Duration // the child finished: dump.rdb renamed, or the attempt failed
	Rule    Rule          // the first rule, in order, that matched at the fork
	OK      bool
	Changes int64 // Valkey's dirty counter at the fork
}

// WindowSpan says what a crash restores: any crash in [From, To) loads the
// snapshot taken at Snapshot and loses every write made after it.
type WindowSpan struct {
	From, To time.Duration
	Snapshot time.Duration
}

// Simulation is a run of serverCron's save logic against a write profile.
type Simulation struct {
	Horizon time.Duration
	Saves   []SimSave
	Windows []WindowSpan // contiguous, covering [0, Horizon)
	// WorstWindow is the longest time since the snapshot a crash could see.
	WorstWindow time.Duration
	// MeanWindow is the expected window for a crash uniform over the horizon.
	MeanWindow time.Duration
	// OldestLostWrite is the oldest write (its age at the crash) any crash
	// in the horizon could lose.
	OldestLostWrite time.Duration
	// SavesPerDay counts completed saves, scaled to 24 h.
	SavesPerDay float64
	// Attempts counts every fork, failed ones included.
	Attempts int
}

// RuleCounts is how often each rule fired a save attempt.
func (s Simulation) RuleCounts() map[Rule]int {
	out := map[Rule]int{}
	for _, sv := range s.Saves {
		out[sv.Rule]++
	}
	return out
}

// Simulate runs serverCron's save checks from boot (lastsave = boot time, no
// changes) over horizon, with the unix clock and ticks both aligned to zero.
func Simulate(rules Rules, profile Profile, bgsave BGSave, horizon time.Duration) Simulation {
	return Clock{}.Simulate(rules, profile, bgsave, horizon)
}

// Simulate is a discrete-event simulation of serverCron: on each 100 ms tick
// with no child running, the first rule with dirty >= changes and
// unixtime - lastsave > seconds (and, after a failure, unixtime -
// lastbgsave_try > 5) forks a save; dirty counts from the fork, so writes
// during the save carry over; lastsave becomes the whole second at which
// the parent notices the child has finished. It jumps from event to event,
// so a day at any rate takes microseconds per save.
func (c Clock) Simulate(rules Rules, profile Profile, bgsave BGSave, horizon time.Duration) Simulation {
	const tick = int64(Tick / time.Microsecond)
	frac := mod(int64(c.UnixFraction/time.Microsecond), 1e6)
	phase := mod(int64(c.TickPhase/time.Microsecond), tick)
	end := int64(horizon / time.Microsecond)
	d := max(int64(bgsave.Duration/time.Microsecond), 0)
	writes := profile.cumulative()
	written := func(t int64) float64 { return math.Floor(writes.writesAt(float64(t)/1e6) + 1e-9) }
	unix := func(t int64) int64 { return floorDiv(t+frac, 1e6) }
	tickCeil := func(t int64) int64 {
		if t <= phase {
			return phase
		}
		return phase + ceilDiv(t-phase, tick)*tick
	}
	// At startup Valkey considers the database saved: the boot is the first
	// snapshot, taken at 0 and complete at 0.
	sim := Simulation{Horizon: horizon}
	var (
		now       = tickCeil(0)
		lastsave  = unix(0)
		statusOK  = true
		lastTry   int64
		base      float64 // dirty counts writes since this many
		snapshot  int64
		validFrom int64
	)
	for {
		fire, rule := int64(math.MaxInt64), -1
		for i, r := range rules {
			t := max(now, (lastsave+r.Seconds+1)*1e6-frac)
			if !statusOK {
				t = max(t, (lastTry+retryDelay+1)*1e6-frac)
			}
			if r.Changes > 0 {
				tc, ok := writes.timeOf(base + float64(r.Changes))
				if !ok || tc*1e6 > float64(end) {
					continue
				}
				t = max(t, int64(math.Ceil(tc*1e6)))
			}
			// Rules are checked in order on each tick: ties go to the first.
			if t = tickCeil(t); t < fire {
				fire, rule = t, i
			}
		}
		if rule < 0 || fire >= end {
			break
		}
		ok, dur := true, d
		for _, o := range bgsave.Outages {
			if fire >= int64(o.From/time.Microsecond) && fire < int64(o.To/time.Microsecond) {
				ok, dur = false, max(int64(o.FailAfter/time.Microsecond), 0)
				break
			}
		}
		childEnd := fire + dur
		noticed := max(tickCeil(childEnd), fire+tick)
		atFork := written(fire)
		sim.Saves = append(sim.Saves, SimSave{
			Fork: us(fire), End: us(childEnd), Rule: rules[rule], OK: ok, Changes: int64(atFork - base),
		})
		sim.Attempts++
		if childEnd >= end {
			break
		}
		if ok {
			sim.Windows = append(sim.Windows, WindowSpan{From: us(validFrom), To: us(childEnd), Snapshot: us(snapshot)})
			snapshot, validFrom, base = fire, childEnd, atFork
			lastsave, statusOK = unix(noticed), true
		} else {
			lastTry, statusOK = unix(fire), false
		}
		now = noticed + tick
	}
	sim.Windows = append(sim.Windows, WindowSpan{From: us(validFrom), To: horizon, Snapshot: us(snapshot)})
	sim.summarise(writes)
	return sim
}

func (s *Simulation) summarise(writes cumulative) {
	var worst, oldest time.Duration
	var area float64 // integral of the window over time, s^2
	for _, w := range s.Windows {
		if w.To <= w.From {
			continue
		}
		worst = max(worst, w.To-w.Snapshot)
		a, b := (w.From - w.Snapshot).Seconds(), (w.To - w.Snapshot).Seconds()
		area += (b*b - a*a) / 2
		// The first write the snapshot misses; crashes before it lose nothing.
		snapWrites := math.Floor(writes.writesAt(w.Snapshot.Seconds()) + 1e-9)
		if first, ok := writes.timeOf(snapWrites + 1); ok && seconds(first) < w.To {
			oldest = max(oldest, w.To-seconds(first))
		}
	}
	s.WorstWindow, s.OldestLostWrite = worst, oldest
	if s.Horizon > 0 {
		s.MeanWindow = seconds(area / s.Horizon.Seconds())
	}
	completed := 0
	for _, sv := range s.Saves {
		if sv.OK && sv.End < s.Horizon {
			completed++
		}
	}
	if s.Horizon > 0 {
		s.SavesPerDay = float64(completed) * 86400 / s.Horizon.Seconds()
	}
}

func us(t int64) time.Duration { return time.Duration(t) * time.Microsecond }

func mod(a, m int64) int64 { return ((a % m) + m) % m }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
