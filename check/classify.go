// Package check compares a write History with the keyspace that survived a
// fault and turns them into the numbers DESIGN.md defines ("What we
// measure"): lost, recovered, unexpected, corrupt, consistency anomalies, the
// snapshot-instant bracket and the loss window, a stale load; and the
// recovery timeline with its RTO. Classify and Recovery are pure functions
// (ClassifyStream is Classify over ops read from a stream, a History
// spooled to disk); ReadBack and ScanUnexpected are the only parts that
// talk to a server.
// Whether a trial passes is decided elsewhere (the judge): Classify only
// classifies.
package check

import (
	"fmt"
	"math"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// Found is what the recovered server holds at one write's key.
type Found struct {
	Present bool // the key exists
	Match   bool // its value parses and carries this write's seq; present but not matching is corrupt
}

// Classification is what one trial's writes say after recovery.
type Classification struct {
	Writes, Acked, Failed, Unknown int
	// Lost: acknowledged but absent or corrupt after recovery (a corrupt
	// acknowledged write is counted in both Lost and Corrupt).
	Lost int
	// Recovered: outcome unknown, present with its own value.
	Recovered int
	// Unexpected: keys under the run's write prefix that no op wrote.
	Unexpected int
	// Corrupt: present with a value that is not the one written (any outcome).
	Corrupt int
	// Anomalies: acknowledged writes whose loss a single snapshot cannot
	// explain, plus failed writes that are present (see Classify).
	Anomalies int

	// LostFirst and LostLast are the first and last acknowledgement (Done)
	// of a lost write: lost_span. Meaningful when HasLost.
	LostFirst, LostLast time.Duration
	HasLost             bool

	// Snapshot brackets the instant F the restored data reflects (see
	// Bracket for the one-sided case); nil when no lost write bounds it
	// from above, or when anomalies make the bounds contradict each other.
	Snapshot *Bracket
	// LossWindow is t_fault - F (observed RPO); nil when Snapshot is nil or
	// no fault instant was given.
	LossWindow *Bracket

	// LastSave is the last save that completed before the fault (by End)
	// and before the replacement started (a save the old server finished
	// while both ran is not one the replacement could load); nil when there
	// is none. The replacement must have loaded it.
	LastSave *SaveFork
	// AckedBeforeLastSave and SentBeforeLastSave bound the number of this
	// History's writes that LastSave holds: at least every write
	// acknowledged before its fork (Done < ForkLow), at most every write
	// not failed that was sent before it (Sent < ForkHigh). Writes sent
	// after Input.Replacement are not counted. Compare with the server's
	// keys loaded (minus the dataset and marker keys).
	AckedBeforeLastSave, SentBeforeLastSave int
	// StaleLoad is set when the replacement loaded a snapshot older than
	// LastSave: writes acknowledged before its fork are lost.
	StaleLoad *StaleLoad

	AnomalyExamples []string // a few, human-readable
}

// Input is everything Classify needs; all times are offsets from one trial base.
type Input struct {
	Ops        []loadgen.Op // in memory; ClassifyStream takes them as a stream instead
	Found      []Found      // parallel to the ops (ReadBack)
	Unexpected int          // ScanUnexpected

	TFault time.Duration // when the fault was injected; zero: none
	// Replacement is when the replacement server started: writes sent from
	// then on may have reached it rather than the old server, so they are
	// left out of the snapshot bracket, the prefix check and the last-save
	// counts (they would otherwise look like survivors sent after every
	// loss). Zero: no replacement during the history.
	Replacement time.Duration
	// SaveStarts are the server log's "Background saving started" (or final
	// save) instants, any order. Pass saves that completed: a save killed
	// mid-way is not what the restored data reflects. Log times are truncated
	// to the millisecond, so a start up to 1 ms below the bracket still counts
	// (the estimate is then the bracket's low end).
	SaveStarts []time.Duration
	// FloorF is the earliest instant the restored data can reflect: the fork
	// of the oldest snapshot the replacement could legitimately have loaded
	// (the dataset snapshot taken after the preload). It bounds F from below
	// when no survivor does. It may be negative (a snapshot before the trial
	// base). Zero: unknown.
	FloorF time.Duration
	// CompletedSaves are the saves of the faulted server that completed
	// before the fault, any order (server log or INFO watcher).
	CompletedSaves []SaveFork
}

// maxExamples bounds Classification.AnomalyExamples.
const maxExamples = 5

// Classify applies DESIGN.md's definitions to a History and what ReadBack
// found:
//
//   - lost: ok, but absent or with a different value (corrupt ok writes are
//     lost too, and also counted in Corrupt);
//   - recovered: unknown, present with its own value;
//   - corrupt: present with a value that is not this write's;
//   - snapshot instant F: max(Sent of survivors) < F < min(Done of lost),
//     survivors being present ok or unknown writes; with no survivor,
//     FloorF <= F < min(Done of lost), one-sided (see Bracket); the
//     estimate is the latest save start inside that bracket, else its
//     midpoint;
//   - loss window: TFault - F, as a bracket;
//   - consistency anomaly: a lost write acknowledged before some surviving
//     write was sent, so the survivors are not a point-in-time prefix (two
//     writers of dump.rdb, a stale file);
//   - stale load: a lost write acknowledged before the fork of the last
//     completed save (see StaleLoad).
//
// Two more cases count as anomalies because no snapshot explains them: a
// write that failed (definitely not applied, e.g. MISCONF or refused) yet is
// present, and a write sent after Replacement, acknowledged and missing
// (acknowledged by the replacement, or by the old server while both ran:
// a rolling deployment's overlap).
//
// It runs in O(n) time over the ops.
func Classify(in Input) Classification {
	c, _ := ClassifyStream(OpSlice(in.Ops), in) // a slice cannot fail to read
	return c
}

// ClassifyStream is Classify over ops read a chunk at a time (a History
// spooled to disk), in.Ops unused: memory does not grow with the ops
// beyond in.Found. It reads the stream once, twice when lost writes were
// acknowledged before a survivor was sent (the prefix check). The error is
// the stream's; the classification is then empty.
func ClassifyStream(ops OpStream, in Input) (Classification, error) {
	n := ops.Len()
	c := Classification{Writes: n, Unexpected: in.Unexpected}
	if len(in.Found) != n {
		c.AnomalyExamples = append(c.AnomalyExamples, fmt.Sprintf("harness error: %d read-back results for %d writes", len(in.Found), n))
		return c, nil
	}
	last := in.lastSave()
	b := bounds{maxSurvivorSent: math.MinInt64, minLostDone: math.MaxInt64}
	var ls lastSaveCounts
	err := eachChunk(ops, in.Found, func(chunk []loadgen.Op, found []Found) {
		c.count(&in, &b, chunk, found)
		if last != nil {
			ls.count(&in, last, chunk, found)
		}
	})
	if err == nil {
		err = c.prefixAnomalies(ops, &in, b)
	}
	if err != nil {
		return Classification{}, fmt.Errorf("classify %d writes: %w", n, err)
	}
	c.Snapshot, c.LossWindow = brackets(in, b)
	c.recordLastSave(last, ls)
	return c, nil
}

// bounds are what the writes the old server saw say about F.
type bounds struct {
	maxSurvivorSent time.Duration
	latestSurvivor  uint64 // seq of the survivor sent last
	minLostDone     time.Duration
	haveSurvivor    bool
	haveLost        bool
}

// beforeReplacement: the op went to the old server (see Input.Replacement).
func (in *Input) beforeReplacement(op *loadgen.Op) bool {
	return in.Replacement == 0 || op.Sent < in.Replacement
}

// lost: acknowledged, and not present with its own value.
func lost(op *loadgen.Op, f Found) bool {
	return op.Outcome == loadgen.OK && !(f.Present && f.Match)
}

// count is the first pass, one chunk at a time: counts, lost span, and the
// bounds of F.
func (c *Classification) count(in *Input, b *bounds, ops []loadgen.Op, found []Found) {
	for i := range ops {
		op, f := &ops[i], found[i]
		survived := f.Present && f.Match
		if f.Present && !f.Match {
			c.Corrupt++
		}
		switch op.Outcome {
		case loadgen.OK:
			c.Acked++
			if survived {
				break
			}
			c.Lost++
			if !c.HasLost || op.Done < c.LostFirst {
				c.LostFirst = op.Done
			}
			if !c.HasLost || op.Done > c.LostLast {
				c.LostLast = op.Done
			}
			c.HasLost = true
			if !in.beforeReplacement(op) {
				c.Anomalies++
				c.example("seq %d was acknowledged at %s, after the replacement started, and is missing", op.Seq, fmtOffset(op.Done))
				continue
			}
			b.haveLost = true
			b.minLostDone = min(b.minLostDone, op.Done)
			continue
		case loadgen.Unknown:
			c.Unknown++
			if survived {
				c.Recovered++
			}
		case loadgen.Fail:
			c.Failed++
			if f.Present {
				c.Anomalies++
				c.example("seq %d failed (%s, definitely not applied) at %s but is present", op.Seq, errName(op.Err), fmtOffset(op.Done))
			}
			continue
		default:
			continue
		}
		if survived && in.beforeReplacement(op) {
			b.haveSurvivor = true
			if op.Sent > b.maxSurvivorSent {
				b.maxSurvivorSent, b.latestSurvivor = op.Sent, op.Seq
			}
		}
	}
}

// prefixAnomalies is the second pass: lost writes acknowledged before the
// last survivor was sent. Most trials have none and skip the pass.
func (c *Classification) prefixAnomalies(ops OpStream, in *Input, b bounds) error {
	if !b.haveLost || !b.haveSurvivor || b.minLostDone >= b.maxSurvivorSent {
		return nil
	}
	return eachChunk(ops, in.Found, func(chunk []loadgen.Op, found []Found) {
		for i := range chunk {
			op := &chunk[i]
			if !lost(op, found[i]) || !in.beforeReplacement(op) {
				continue
			}
			if op.Done < b.maxSurvivorSent {
				c.Anomalies++
				c.example("seq %d was acknowledged at %s and is lost, but seq %d sent later at %s survived: not a point-in-time snapshot",
					op.Seq, fmtOffset(op.Done), b.latestSurvivor, fmtOffset(b.maxSurvivorSent))
			}
		}
	})
}

func (c *Classification) example(format string, args ...any) {
	if len(c.AnomalyExamples) < maxExamples {
		c.AnomalyExamples = append(c.AnomalyExamples, fmt.Sprintf(format, args...))
	}
}

func errName(k loadgen.ErrKind) string {
	if s := k.String(); s != "" {
		return s
	}
	return "error"
}

// fmtOffset renders an offset from the trial base in seconds with ms.
func fmtOffset(d time.Duration) string {
	return fmt.Sprintf("+%.3fs", d.Seconds())
}
