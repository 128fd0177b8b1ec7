// Package check compares a write History with the keyspace that survived a
// fault and turns them into the numbers DESIGN.md defines ("What we
// measure"): lost, recovered, unexpected, corrupt, consistency anomalies, the
// snapshot-instant bracket and the loss window; and the recovery timeline
// with its RTO. Classify and Recovery are pure functions; ReadBack and
// ScanUnexpected are the only parts that talk to a server.
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

// Bracket is an instant known to lie in (Low, High), with a point estimate.
// All three are offsets from the trial base.
type Bracket struct {
	Low, High, Estimate time.Duration
	Source              string // SourceServerLog or SourceClientBracket: where Estimate came from
}

// Where a bracket's estimate came from.
const (
	SourceServerLog     = "server-log"     // a save start from the server's log inside the bracket
	SourceClientBracket = "client-bracket" // the bracket's midpoint
)

// Verdict is the classification of one trial's writes.
type Verdict struct {
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

	// Snapshot brackets the instant F the restored data reflects; nil when
	// survivors and losses do not both bound it, or when anomalies make the
	// bounds contradict each other.
	Snapshot *Bracket
	// LossWindow is t_fault - F (observed RPO); nil when Snapshot is nil or
	// no fault instant was given.
	LossWindow *Bracket

	AnomalyExamples []string // a few, human-readable
}

// Input is everything Classify needs; all times are offsets from one trial base.
type Input struct {
	Ops        []loadgen.Op
	Found      []Found // parallel to Ops (ReadBack)
	Unexpected int     // ScanUnexpected

	TFault time.Duration // when the fault was injected; zero: none
	// Replacement is when the replacement server started: writes sent from
	// then on may have reached it rather than the old server, so they are
	// left out of the snapshot bracket and the prefix check (they would
	// otherwise look like survivors sent after every loss). Zero: no
	// replacement during the history.
	Replacement time.Duration
	// SaveStarts are the server log's "Background saving started" (or final
	// save) instants, any order. Pass saves that completed: a save killed
	// mid-way is not what the restored data reflects. Log times are truncated
	// to the millisecond, so a start up to 1 ms below the bracket still counts
	// (the estimate is then the bracket's low end).
	SaveStarts []time.Duration
}

// maxExamples bounds Verdict.AnomalyExamples.
const maxExamples = 5

// Classify applies DESIGN.md's definitions to a History and what ReadBack
// found:
//
//   - lost: ok, but absent or with a different value (corrupt ok writes are
//     lost too, and also counted in Corrupt);
//   - recovered: unknown, present with its own value;
//   - corrupt: present with a value that is not this write's;
//   - snapshot instant F: max(Sent of survivors) < F < min(Done of lost),
//     survivors being present ok or unknown writes; the estimate is the
//     latest save start inside that bracket, else its midpoint;
//   - loss window: TFault - F, as a bracket;
//   - consistency anomaly: a lost write acknowledged before some surviving
//     write was sent, so the survivors are not a point-in-time prefix (two
//     writers of dump.rdb, a stale file).
//
// Two more cases count as anomalies because no snapshot explains them: a
// write that failed (definitely not applied, e.g. MISCONF or refused) yet is
// present, and a write sent after Replacement, acknowledged and missing
// (acknowledged by the replacement, or by the old server while both ran:
// a rolling deployment's overlap).
//
// It runs in O(n) time over the ops.
func Classify(in Input) Verdict {
	v := Verdict{Writes: len(in.Ops), Unexpected: in.Unexpected}
	if len(in.Found) != len(in.Ops) {
		v.AnomalyExamples = append(v.AnomalyExamples, fmt.Sprintf("harness error: %d read-back results for %d writes", len(in.Found), len(in.Ops)))
		return v
	}
	// First pass: counts, and the bounds of F from writes the old server saw.
	var (
		maxSurvivorSent = time.Duration(math.MinInt64)
		latestSurvivor  = -1 // index of the survivor sent last
		minLostDone     = time.Duration(math.MaxInt64)
		haveSurvivor    bool
		haveLost        bool
	)
	beforeReplacement := func(op *loadgen.Op) bool {
		return in.Replacement == 0 || op.Sent < in.Replacement
	}
	for i := range in.Ops {
		op, f := &in.Ops[i], in.Found[i]
		corrupt := f.Present && !f.Match
		survived := f.Present && f.Match
		if corrupt {
			v.Corrupt++
		}
		switch op.Outcome {
		case loadgen.OK:
			v.Acked++
			if survived {
				break
			}
			v.Lost++
			if !v.HasLost || op.Done < v.LostFirst {
				v.LostFirst = op.Done
			}
			if !v.HasLost || op.Done > v.LostLast {
				v.LostLast = op.Done
			}
			v.HasLost = true
			if !beforeReplacement(op) {
				v.Anomalies++
				v.example("seq %d was acknowledged at %s, after the replacement started, and is missing", op.Seq, fmtOffset(op.Done))
				continue
			}
			haveLost = true
			minLostDone = min(minLostDone, op.Done)
			continue
		case loadgen.Unknown:
			v.Unknown++
			if survived {
				v.Recovered++
			}
		case loadgen.Fail:
			v.Failed++
			if f.Present {
				v.Anomalies++
				v.example("seq %d failed (%s, definitely not applied) at %s but is present", op.Seq, errName(op.Err), fmtOffset(op.Done))
			}
			continue
		default:
			continue
		}
		if survived && beforeReplacement(op) {
			haveSurvivor = true
			if op.Sent > maxSurvivorSent {
				maxSurvivorSent, latestSurvivor = op.Sent, i
			}
		}
	}

	// Second pass: lost writes acknowledged before the last survivor was sent.
	if haveLost && haveSurvivor && minLostDone < maxSurvivorSent {
		last := &in.Ops[latestSurvivor]
		for i := range in.Ops {
			op, f := &in.Ops[i], in.Found[i]
			if op.Outcome != loadgen.OK || (f.Present && f.Match) || !beforeReplacement(op) {
				continue
			}
			if op.Done < maxSurvivorSent {
				v.Anomalies++
				v.example("seq %d was acknowledged at %s and is lost, but seq %d sent later at %s survived: not a point-in-time snapshot",
					op.Seq, fmtOffset(op.Done), last.Seq, fmtOffset(last.Sent))
			}
		}
	}

	if haveLost && haveSurvivor && maxSurvivorSent < minLostDone {
		v.Snapshot = snapshotBracket(maxSurvivorSent, minLostDone, in.SaveStarts)
		if in.TFault != 0 {
			v.LossWindow = &Bracket{
				Low:      in.TFault - v.Snapshot.High,
				High:     in.TFault - v.Snapshot.Low,
				Estimate: in.TFault - v.Snapshot.Estimate,
				Source:   v.Snapshot.Source,
			}
		}
	}
	return v
}

// logResolution is the precision of the server log's timestamps: a line
// stamped t happened in [t, t+1ms).
const logResolution = time.Millisecond

// snapshotBracket builds the bracket (low, high) and picks its estimate: the
// latest save start inside it (allowing for the log's ms truncation), else
// the midpoint.
func snapshotBracket(low, high time.Duration, saveStarts []time.Duration) *Bracket {
	b := &Bracket{Low: low, High: high, Estimate: low + (high-low)/2, Source: SourceClientBracket}
	found := false
	for _, s := range saveStarts {
		if s+logResolution > low && s < high && (!found || max(s, low) > b.Estimate) {
			b.Estimate, b.Source, found = max(s, low), SourceServerLog, true
		}
	}
	return b
}

func (v *Verdict) example(format string, args ...any) {
	if len(v.AnomalyExamples) < maxExamples {
		v.AnomalyExamples = append(v.AnomalyExamples, fmt.Sprintf(format, args...))
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
