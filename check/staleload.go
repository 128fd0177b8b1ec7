package check

import (
	"fmt"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// SaveFork is one completed save: its fork instant lies in [ForkLow,
// ForkHigh) and it finished at End. From the server log, a start stamped t
// gives [t, t+1ms); from the INFO watcher, (the poll before, the poll that
// first saw it].
type SaveFork struct {
	ForkLow, ForkHigh, End time.Duration
	Source                 string // where the bracket came from, e.g. "server-log" or "info"
}

// StaleLoad says the replacement loaded a snapshot older than the last
// completed save: writes acknowledged before that save's fork (so applied
// before it, so in it) are lost.
type StaleLoad struct {
	Save       SaveFork // the last completed save, which was not what was loaded
	LostBefore int      // lost writes acknowledged before Save.ForkLow
	Example    string   // a human sentence naming one of them
}

// lastSave is the last completed save the replacement could load, nil
// when there is none.
func (in *Input) lastSave() *SaveFork {
	var last SaveFork
	found := false
	for _, s := range in.CompletedSaves {
		if in.Replacement != 0 && s.End >= in.Replacement {
			continue // written after the replacement started: not what it could load
		}
		if !found || s.End > last.End || s.End == last.End && s.ForkLow > last.ForkLow {
			last, found = s, true
		}
	}
	if !found {
		return nil
	}
	return &last
}

// lastSaveCounts are the writes the last save must and may hold, counted a
// chunk at a time, and the lost writes it must have held.
type lastSaveCounts struct {
	acked, sent int
	lostBefore  int
	first       loadgen.Op // the first of them
}

func (ls *lastSaveCounts) count(in *Input, last *SaveFork, ops []loadgen.Op, found []Found) {
	for i := range ops {
		op := &ops[i]
		if !in.beforeReplacement(op) {
			continue
		}
		if op.Outcome != loadgen.Fail && op.Sent < last.ForkHigh {
			ls.sent++
		}
		if op.Outcome != loadgen.OK || op.Done >= last.ForkLow {
			continue
		}
		ls.acked++
		if lost(op, found[i]) {
			if ls.lostBefore == 0 {
				ls.first = *op
			}
			ls.lostBefore++
		}
	}
}

// recordLastSave fills the counts bounding what the last save holds, and
// the stale load if the losses contradict it.
func (c *Classification) recordLastSave(last *SaveFork, ls lastSaveCounts) {
	if last == nil {
		return
	}
	c.LastSave = last
	c.AckedBeforeLastSave, c.SentBeforeLastSave = ls.acked, ls.sent
	if ls.lostBefore == 0 {
		return
	}
	op := &ls.first
	c.StaleLoad = &StaleLoad{
		Save:       *last,
		LostBefore: ls.lostBefore,
		Example: fmt.Sprintf("the replacement loaded a snapshot older than the last completed save (forked at %s, %s): "+
			"%d acknowledged writes before that fork are lost, e.g. seq %d acknowledged at %s",
			fmtOffset(last.ForkLow), last.Source, ls.lostBefore, op.Seq, fmtOffset(op.Done)),
	}
}

// KeysLoadedMismatch compares the replacement's own count of keys loaded
// (the log's "Done loading RDB, keys loaded: N" or INFO's
// rdb_last_load_keys_loaded) with what LastSave must and may hold of this
// History's writes; otherKeys are the keys the save holds besides them (the
// dataset, the marker). It returns "" when the count fits (or there is no
// last save), else a sentence for the verdict's reasons.
func (c *Classification) KeysLoadedMismatch(keysLoaded, otherKeys int64) string {
	if c.LastSave == nil {
		return ""
	}
	measured := keysLoaded - otherKeys
	switch {
	case measured < int64(c.AckedBeforeLastSave):
		return fmt.Sprintf("the replacement loaded a snapshot older than the last completed save: it loaded %d keys, %d of them this run's writes, "+
			"but the save forked at %s holds at least %d (%d other keys)",
			keysLoaded, max(measured, 0), fmtOffset(c.LastSave.ForkLow), c.AckedBeforeLastSave, otherKeys)
	case measured > int64(c.SentBeforeLastSave):
		return fmt.Sprintf("the replacement loaded a snapshot that is not the last completed save: it loaded %d keys, %d of them this run's writes, "+
			"but the save forked at %s holds at most %d (%d other keys)",
			keysLoaded, measured, fmtOffset(c.LastSave.ForkLow), c.SentBeforeLastSave, otherKeys)
	}
	return ""
}
