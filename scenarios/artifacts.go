package scenarios

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/loadgen"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/target"
)

// pacing is the harness's own validity gate: the writer kept its rate up
// to the fault (or the first write a storage fault got refused: those are
// the outcome under test, not a harness that fell behind).
func (ev *evidence) pacing(env *trialEnv, t *result.Trial) (bool, string) {
	h := ev.load.history
	end := ev.faultOffset(env)
	if end == 0 {
		end = time.Since(env.base)
	}
	if first := ev.storage.first; !first.IsZero() && first.Sub(env.base) < end {
		end = first.Sub(env.base)
	}
	// A server the kernel OOM-killed stalled under memory pressure first:
	// the rate is judged up to the save its overwrites doomed.
	if ev.fault.rep.OOMKilled == target.OOMParent && !ev.placement.cycle.Ended.IsZero() {
		end = min(end, ev.placement.cycle.Ended.Sub(env.base))
	}
	start := ev.load.start.Sub(env.base)
	t.AchievedRatePerS = h.AchievedRate(start, end)
	// The gate is on what the writer sent in time, whatever the reply: a
	// write in flight at the fault was paced as well as an acknowledged one
	// (counting acks alone failed slow rules by that one write). Open-loop
	// pacing places ops on a fixed schedule, so over a short span at a slow
	// rate the count can still be one op short without any lag.
	sent := h.SentRate(start, end)
	span := (end - start).Seconds()
	if expected := ev.load.rate * span; sent*span < expected-math.Max(0.05*expected, 1) {
		return false, fmt.Sprintf("sent %s before the fault (acknowledged %s), more than 5%% short of the target %s: the harness fell behind", savepolicy.FormatRate(sent), savepolicy.FormatRate(t.AchievedRatePerS), savepolicy.FormatRate(ev.load.rate))
	}
	return true, ""
}

// recordLoad stores the whole trial's latency summary and binned series,
// and returns the latency histogram (the .hgrm artifact's).
func recordLoad(env *trialEnv, t *result.Trial, h *loadgen.History) *hdrhistogram.Histogram {
	end := time.Since(env.base)
	hist := h.Latency(0, end)
	t.Latency = &result.Latency{
		P50: float64(hist.ValueAtQuantile(50)) / 1000, P90: float64(hist.ValueAtQuantile(90)) / 1000,
		P99: float64(hist.ValueAtQuantile(99)) / 1000, P999: float64(hist.ValueAtQuantile(99.9)) / 1000,
		Max: float64(hist.Max()) / 1000, Count: hist.TotalCount(),
	}
	series := h.Series(0, end, seriesBin(end, t.RatePerS))
	t.Series = &series
	return hist
}

// seriesBin keeps a plot at a few hundred bins whatever the trial length,
// and wide enough that a steady rate does not alias into a comb (105/s in
// 50 ms bins reads as 100, 120, 100, ...): at least 20 ops a bin, up to 1 s.
func seriesBin(d time.Duration, rate float64) time.Duration {
	for _, b := range []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second, 5 * time.Second, 15 * time.Second, time.Minute} {
		if d/b > 600 {
			continue
		}
		if rate*b.Seconds() >= 20 || b >= time.Second {
			return b
		}
	}
	return 5 * time.Minute
}

// saveRows are the trial's saves, from the server log when it has them,
// else from the INFO watcher.
func saveRows(env *trialEnv, v logSummary, watched []probe.SaveEvent) []result.Save {
	var out []result.Save
	if len(v.saves) > 0 {
		for _, s := range v.saves {
			rs := result.Save{StartS: env.offset(s.start), OK: s.ok, Trigger: s.trigger, Source: "server-log"}
			if !s.end.IsZero() {
				rs.EndS = env.offset(s.end)
			}
			out = append(out, rs)
		}
		return out
	}
	for _, w := range watched {
		rs := result.Save{StartS: env.offset(w.Started), OK: w.OK, Source: "info"}
		if !w.Ended.IsZero() {
			rs.EndS = env.offset(w.Ended)
		}
		out = append(out, rs)
	}
	return out
}

// Artifact names inside a run's trials/ directory.
const (
	historySuffix = ".history.bin"
	spoolSuffix   = ".history.spool" // while the trial runs (load.go), when it spools
	// readSpoolSuffix is the reader's spool while the trial runs
	// (strategies.go), when it spools; removed once summarised.
	readSpoolSuffix = ".reads.spool"
	foundSuffix     = ".found.bin"
	hgrmSuffix      = ".hgrm"
)

// writeArtifacts writes the trial's history, per-key read-back and .hgrm
// of hist (atomically; nil: computed here, when recordLoad did not run) and
// names the server logs, so `valkey-chaos check` can re-judge the trial
// from its files alone.
func writeArtifacts(env *trialEnv, t *result.Trial, h *loadgen.History, hist *hdrhistogram.Histogram, rb readBackDone, lines []target.LogLine) error {
	name := result.SafeName(env.plan.Label)
	t.Files.ServerLogs = append(t.Files.ServerLogs, logFiles(env, lines)...)
	histPath := filepath.Join("trials", name+historySuffix)
	if err := result.WriteAtomic(filepath.Join(env.cfg.OutDir, histPath), func(w io.Writer) error { _, err := h.WriteTo(w); return err }); err != nil {
		return err
	}
	t.Files.History = histPath
	if rb.done {
		foundPath := filepath.Join("trials", name+foundSuffix)
		if err := result.WriteAtomic(filepath.Join(env.cfg.OutDir, foundPath), func(w io.Writer) error { return check.WriteFound(w, rb.found) }); err != nil {
			return err
		}
		t.Files.Found = foundPath
	}
	hgrmPath := filepath.Join("trials", name+hgrmSuffix)
	if hist == nil {
		hist = h.Latency(0, time.Since(env.base)) // one more pass over a spool
	}
	if err := result.WriteAtomic(filepath.Join(env.cfg.OutDir, hgrmPath), func(w io.Writer) error {
		return loadgen.WriteHgrm(w, hist) // the same distribution as the result's summary
	}); err != nil {
		return err
	}
	t.Files.Hgrm = hgrmPath
	return nil
}

// dropSpool removes the trial's spool file once history.bin holds its ops.
// When history.bin was not written the spool stays, the trial's only record
// of its writes, and a note says where it is.
func (ev *evidence) dropSpool(env *trialEnv, t *result.Trial) {
	path, ok := ev.load.history.Spooled()
	if !ok {
		return
	}
	if t.Files.History == "" {
		rel := path
		if r, err := filepath.Rel(env.cfg.OutDir, path); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
		t.Notes = append(t.Notes, "the writes' history is only in the spool file "+rel+": history.bin was not written")
		return
	}
	if err := os.Remove(path); err != nil {
		env.logf("history spool %s not removed: %v", path, err)
	}
}

// LogFiler is implemented by targets that write server logs straight into
// the run's logs/ directory (local).
type LogFiler interface{ LogFiles() []string }

// logFiles names the trial's server logs relative to the run directory;
// other targets' lines are saved there.
func logFiles(env *trialEnv, lines []target.LogLine) []string {
	if lf, ok := env.cfg.Target.(LogFiler); ok {
		var out []string
		for _, p := range lf.LogFiles() {
			if rel, err := filepath.Rel(env.cfg.OutDir, p); err == nil && !strings.HasPrefix(rel, "..") {
				out = append(out, rel)
			} else {
				out = append(out, p)
			}
		}
		return out
	}
	if len(lines) == 0 {
		return nil
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "[%s] %s\n", l.Instance, l.Text)
	}
	rel := filepath.Join("logs", result.SafeName(env.plan.Label)+"-server.log")
	if err := result.WriteFileAtomic(filepath.Join(env.cfg.OutDir, rel), []byte(b.String())); err != nil {
		env.logf("server log not saved: %v", err) // the result still names what it has
		return nil
	}
	return []string{rel}
}

// fileSize returns the size of path, or 0 when it cannot be seen.
func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// DataKeeper is a target that keeps each trial's data directory with the
// run and checks its dumps (target/local with --keep-data).
type DataKeeper interface {
	KeptData() (target.KeptData, bool)
}

// keptData records the kept directory (relative to the run) and the
// checker's verdicts; a damaged dump the replacement started on is a
// failure reason, and its key count is held against what it loaded.
func keptData(env *trialEnv, t *result.Trial) {
	dk, ok := env.cfg.Target.(DataKeeper)
	if !ok {
		return
	}
	kd, ok := dk.KeptData()
	if !ok {
		return
	}
	rel := func(p string) string {
		if r, err := filepath.Rel(env.cfg.OutDir, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	out := &result.KeptData{Dir: rel(kd.Dir), AtFault: rel(kd.AtFault), CheckerMissing: kd.CheckerMissing}
	for _, c := range kd.Checks {
		out.Checks = append(out.Checks, result.RDBCheck{File: rel(c.File), OK: c.OK, Verdict: c.Verdict, Keys: c.Keys, Expires: c.Expires})
		atFault := kd.AtFault != "" && strings.HasPrefix(c.File, kd.AtFault) && filepath.Base(c.File) == "dump.rdb"
		if atFault && !c.OK {
			t.Problems = append(t.Problems, fmt.Sprintf("the dump the replacement started on is damaged (%s: %s)", c.Checker, c.Verdict))
		}
		if atFault && c.OK && t.Classified != nil && t.Classified.KeysLoaded >= 0 && c.Keys != t.Classified.KeysLoaded {
			t.Notes = append(t.Notes, fmt.Sprintf("valkey-check-rdb counts %d keys in the dump the replacement started on, the server says it loaded %d", c.Keys, t.Classified.KeysLoaded))
		}
	}
	t.KeptData = out
}
