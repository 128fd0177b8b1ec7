package scenarios

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target"
)

// Log lines of a replacement that refuses its dump.rdb (FACTS.md §3.21).
var corruptRDBLines = []string{"Short read", "Unexpected EOF reading RDB", "Bad file format", "Wrong signature", "RDB file was saved with checksum", "Internal error in RDB"}

// unrecovered finishes a trial whose replacement died while starting: no
// read-back is possible and the cache never serves again, so RTO is
// unbounded. It says why, and what would fix it, from the server's log.
func (tr *trialRun) unrecovered(ctx context.Context, h *loadgen.History, rec target.Recovery,
	ready probe.Readiness, tFault, writerStart time.Time, detail string, watched []probe.SaveEvent) error {
	t := tr.trial
	t.ReplacementExited = detail
	t.Writes = len(h.Ops)
	t.Acked, t.Failed, t.Unknown = h.Counts()
	t.LossWindowS = nil
	tr.addStep("port_accepts", ready.Accepted, "probe")
	tr.addStep("first_reply", ready.FirstReply, "probe")

	lines, err := tr.serverLog(ctx)
	if err != nil {
		tr.logf("server log unavailable: %v", err)
	}
	var logView logSummary
	if lines != nil {
		logView = summarizeLog(parseLog(lines), rec.Instance.StartedAt)
	}
	t.Saves = tr.saves(logView, watched)
	if logView.finalSave > 0 {
		fs := logView.finalSave.Seconds()
		t.FinalSaveS = &fs
	}
	corrupt := ""
	for _, l := range lines {
		for _, marker := range corruptRDBLines {
			if strings.Contains(l.Text, marker) {
				corrupt = strings.TrimSpace(l.Text)
			}
		}
	}
	if corrupt == "" {
		for _, marker := range corruptRDBLines {
			if strings.Contains(detail, marker) {
				corrupt = detail
			}
		}
	}
	if corrupt != "" {
		tr.reasons = append(tr.reasons, fmt.Sprintf("the replacement refused its dump.rdb and exited (%s; log: %q): on ECS the task would crash-loop and the cache never serves again: RTO unbounded. "+
			"Remedy: move the bad dump.rdb aside on the volume (or restore a good copy) so the next task starts, empty or from the copy; find why it was cut short (a torn write or rename on the storage, a full volume)",
			exitOnly(detail), corrupt))
	} else {
		tr.reasons = append(tr.reasons, fmt.Sprintf("the replacement exited while starting (%s): on ECS the task would crash-loop: RTO unbounded. Remedy: read the server log of the replacement, fix its cause, then restart the service", detail))
	}
	tr.logf("replacement exited while starting: %s", detail)

	// The validity gate still applies to what happened before the fault.
	tr.checkPacing(h, writerStart, tr.rateWindowEnd(tFault.Sub(tr.base)))
	return tr.recordLoad(h)
}

// exitOnly keeps "exit status 1" of "exit status 1: log tail".
func exitOnly(detail string) string {
	s, _, _ := strings.Cut(detail, ":")
	return s
}
