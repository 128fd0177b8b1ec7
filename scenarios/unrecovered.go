package scenarios

import (
	"fmt"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target"
)

// Log lines of a replacement that refuses its dump.rdb (FACTS.md §3.21).
var corruptRDBLines = []string{"Short read", "Unexpected EOF reading RDB", "Bad file format", "Wrong signature", "RDB file was saved with checksum", "Internal error in RDB"}

// recordUnrecovered records a trial whose replacement died while
// starting: no read-back is possible and the cache never serves again, so
// RTO is unbounded. It says why, and what would fix it, from the log.
func (ev *evidence) recordUnrecovered(env *trialEnv, t *result.Trial) {
	h, detail := ev.load.history, ev.recovery.exited
	t.ReplacementExited = detail
	t.Writes = h.Len()
	t.Acked, t.Failed, t.Unknown = h.Counts()
	t.LossWindowS = nil
	addStep(env, t, "port_accepts", ev.recovery.ready.Accepted, "probe")
	addStep(env, t, "first_reply", ev.recovery.ready.FirstReply, "probe")
	t.Problems = append(t.Problems, unrecoveredReason(ev.log.lines, detail))
}

// unrecoveredReason names why the replacement exited and the remedy.
func unrecoveredReason(lines []target.LogLine, detail string) string {
	if skew := versionSkewReason(lines, detail); skew != "" {
		return skew
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
		return fmt.Sprintf("the replacement refused its dump.rdb and exited (%s; log: %q): on ECS the task would crash-loop and the cache never serves again: RTO unbounded. "+
			"Remedy: move the bad dump.rdb aside on the volume (or restore a good copy) so the next task starts, empty or from the copy; find why it was cut short (a torn write or rename on the storage, a full volume)",
			exitOnly(detail), corrupt)
	}
	if strings.Contains(detail, "health check") {
		return fmt.Sprintf("the replacement was killed by its health check while it loaded the dataset (%s): a crash loop, the cache never serves again: RTO unbounded. "+
			"Remedy: a health-check budget (startPeriod + retries x interval) longer than the load, e.g. a larger health_check_start_period, or a check that accepts LOADING during start-up (health_check_loading_grace in terraform/modules/valkey); or a smaller dataset, or faster storage", detail)
	}
	if warn := lastWarnings(lines, detail); warn != "" && !strings.Contains(detail, warn) {
		detail += fmt.Sprintf("; its log's last warnings: %q", warn)
	}
	return fmt.Sprintf("the replacement exited while starting (%s): on ECS the task would crash-loop: RTO unbounded. Remedy: read the server log of the replacement, fix its cause, then restart the service", detail)
}

// lastWarnings joins the last two warning-level lines ("pid:role date #
// text") of the instance the exit detail names (ECS: "task <id>"), so a
// crash loop's cause is in the verdict, not only in a log stream the
// reader must go and find. Two, because the server's last word is often
// the generic one ("Failed listening on port 6379 (tcp), aborting.") and
// the one before it the cause ("bind: Address already in use").
func lastWarnings(lines []target.LogLine, detail string) string {
	var warns []string
	for _, l := range lines {
		if l.Instance == "" || !strings.Contains(detail, l.Instance) {
			continue
		}
		if _, text, ok := strings.Cut(l.Text, " # "); ok {
			warns = append(warns, strings.TrimSpace(text))
		}
	}
	return strings.Join(warns[max(0, len(warns)-2):], " / ")
}

// exitOnly keeps "exit status 1" of "exit status 1: log tail".
func exitOnly(detail string) string {
	s, _, _ := strings.Cut(detail, ":")
	return s
}
