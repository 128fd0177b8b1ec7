package report

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
)

// testdata/worth-it is a real run of the worth-it scenario at small scale
// (valkey-chaos run worth-it --save "2 100" --keys 5000; result.json and
// the histograms only): none, rdb and aof-everysec, crashed with the host
// and stopped, a cache-aside reader beside the writer. Its aof-everysec
// crash is invalid (pacing fell short on a busy machine).
const worthItDir = "testdata/worth-it"

func worthItFixture(t *testing.T) (string, *result.Run) {
	t.Helper()
	return copyFixtureFrom(t, worthItDir)
}

func TestWorthItTableHasOneRowPerStrategyPerFault(t *testing.T) {
	_, run := worthItFixture(t)
	var problems []string
	views := worthItViews(run, result.TrialNames(run), &problems)
	if len(problems) > 0 || len(views) != 1 {
		t.Fatalf("views %d, problems %v: want one section, no problems", len(views), problems)
	}
	v := views[0]
	want := []struct{ strategy, fault, lost, loss, to99, origin, verdict string }{
		{"none", "crash + host", "2,000 (allowed)", "oldest 4.00 s", "not within 1.5 s", "552 (+249)", "pass"},
		{"rdb", "crash + host", "1,335", "2.67 s window", "0.3 s", "61 (+6)", "pass"},
		{"aof-everysec", "crash + host", "275", "oldest 0.78 s", "0.1 s", "31 (+13)", "invalid"},
		{"none", "stop", "2,042 (allowed)", "oldest 4.00 s", "not within 1.6 s", "529 (+222)", "pass"},
		{"rdb", "stop", "0", "nothing lost", "0.1 s", "1 (-18)", "pass"},
		{"aof-everysec", "stop", "0", "nothing lost", "0.1 s", "5 (-15)", "pass"},
	}
	if len(v.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(v.Rows), len(want))
	}
	for i, w := range want {
		c := v.Rows[i].cells()
		got := []string{c[0], c[1], c[2], c[3], c[6], c[7], c[10]}
		exp := []string{w.strategy, w.fault, w.lost, w.loss, w.to99, w.origin, w.verdict}
		if strings.Join(got, "|") != strings.Join(exp, "|") {
			t.Errorf("row %d: %q, want %q", i, got, exp)
		}
	}
	// Every row's numbers are its trial's: the judge's verdict and lost.
	for i, r := range v.Rows {
		tr := trialByAnchor(t, run, r.Anchor)
		if r.Verdict != string(tr.Verdict) || *r.Lost != int64(tr.Lost) || strategyOf(tr)+"" != strings.Fields(r.Strategy)[0] {
			t.Errorf("row %d (%s %s) does not match trial %s: verdict %s lost %d", i, r.Strategy, r.Fault, trialLabel(tr), tr.Verdict, tr.Lost)
		}
	}
	if len(v.Charts) != 2 || v.Charts[0].Path != "plots/strategies-worth-it-crash.png" || v.Charts[1].Path != "plots/strategies-worth-it-stop.png" {
		t.Errorf("charts %v: want one per fault", chartPaths(v.Charts))
	}
}

func trialByAnchor(t *testing.T, run *result.Run, anchor string) *result.Trial {
	t.Helper()
	for i, n := range result.TrialNames(run) {
		if "trial-"+n == anchor {
			return &run.Trials[i]
		}
	}
	t.Fatalf("no trial for anchor %q", anchor)
	return nil
}

func chartPaths(cs []chart) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Path)
	}
	return out
}

// The modelled write rate is the writer's plus the reader's fills; the
// server's own change counter (rdb_changes_since_last_save, recorded on
// the rdb trials) is the oracle.
func TestWorthItWriteRateCountsTheReadersFills(t *testing.T) {
	_, run := worthItFixture(t)
	n := 0
	for i := range run.Trials {
		tr := &run.Trials[i]
		if tr.ServerChangesPerS <= 0 {
			continue
		}
		n++
		got := writeRate(run, tr)
		if math.Abs(got-tr.ServerChangesPerS) > 0.03*tr.ServerChangesPerS {
			t.Errorf("%s: modelled write rate %.1f/s, the server counted %.1f changes/s", trialLabel(tr), got, tr.ServerChangesPerS)
		}
		if w := tr.AchievedRatePerS; got < w+0.5*tr.Reader.SteadyOriginPerS {
			t.Errorf("%s: write rate %.1f/s leaves out the reader's fills (writer %.1f/s, origin %.1f/s)", trialLabel(tr), got, w, tr.Reader.SteadyOriginPerS)
		}
	}
	if n == 0 {
		t.Fatal("fixture has no trial with the server's change rate")
	}
}

func TestWorthItCostIsPerStrategy(t *testing.T) {
	_, run := worthItFixture(t)
	costs := map[string]savepolicy.StrategyCost{}
	for i := range run.Trials {
		tr := &run.Trials[i]
		if tr.Fault != "crash" {
			continue
		}
		c, ok := trialStrategyCost(run, tr)
		if !ok {
			t.Fatalf("%s: no cost", trialLabel(tr))
		}
		costs[strategyOf(tr)] = c
		if m := c.Cost.TotalUSD * 365 / 12; math.Abs(m-c.Cost.TotalUSDPerMonth) > 1e-9*math.Max(m, 1) {
			t.Errorf("%s: $%g/month is not $%g/day × 365/12", trialLabel(tr), c.Cost.TotalUSDPerMonth, c.Cost.TotalUSD)
		}
	}
	if c := costs["none"]; c.Cost.TotalUSD != 0 || c.WriteBytesPerHour != 0 {
		t.Errorf("none writes nothing, yet costs $%g/day (%g B/hour)", c.Cost.TotalUSD, c.WriteBytesPerHour)
	}
	// An everysec AOF writes each SET once; its bytes per hour are the
	// SETs' RESP size times the rate, plus rewrites.
	aof := costs["aof-everysec"]
	perSet := float64(savepolicy.AOFBytesPerSet(costKeyBytes, 100))
	if aof.AOFBytesPerDay <= 0 || math.Abs(aof.AOFBytesPerDay/86400/perSet-writeRate(run, &run.Trials[4])) > 1e-6 {
		t.Errorf("aof-everysec appends %g B/day, want %g B per SET at the measured rate", aof.AOFBytesPerDay, perSet)
	}
	if costs["rdb"].Cost.TotalUSD <= 0 {
		t.Error("rdb: snapshots every 2 s cost nothing")
	}
}

func TestWorthItFindingsSayItPlainly(t *testing.T) {
	_, run := worthItFixture(t)
	var all []string
	for _, f := range Findings(run) {
		all = append(all, f.Level+": "+f.Text)
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{
		"warn: worth-it, crash: without persistence (none) the cache came back empty and the origin took 552 requests over 1.55 s after the fault (249 extra over its steady 196/s)",
		"with the snapshot (rdb) it took 6 extra over 0.3 s",
		"worth-it, stop: aof-everysec loses nothing, like the snapshot",
		"Cost: the deployment estimated $0.02–0.06/month for EFS. At the measured 690 writes/s (real time, the reader's fills included)",
		"info: worth-it crash none lost 2000 acknowledged writes, as persistence none allows",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	// The invalid aof-everysec crash is no evidence: no finding compares it.
	if strings.Contains(text, "worth-it, crash: aof-everysec") {
		t.Errorf("a finding draws on the invalid trial:\n%s", text)
	}
	// none's stop loses everything by design: not a failed graceful stop.
	if strings.Contains(text, "a graceful stop lost") {
		t.Errorf("none's stop reported as a failed graceful stop:\n%s", text)
	}
	// With the crash valid, the AOF finding gives the loss and the cost.
	run.Trials[4].Verdict = result.Pass
	var found string
	for _, f := range worthItFindings(run) {
		if strings.HasPrefix(f.Text, "worth-it, crash: aof-everysec") {
			found = f.Text
		}
	}
	for _, want := range []string{"cuts the loss on a crash + host from a 2.67 s window (1,335 writes) to 275 writes, the oldest 0.781 s old",
		"writes at p99 254 ms against the snapshot's 55.1 ms", "less than the snapshot on EFS at this rate"} {
		if !strings.Contains(found, want) {
			t.Errorf("aof finding %q lacks %q", found, want)
		}
	}
}

func TestWorthItRendersInBothReports(t *testing.T) {
	dirA, runA := worthItFixture(t)
	dirB, runB := worthItFixture(t)
	before, _ := json.Marshal(runA)
	if err := Write(dirA, runA); err != nil {
		t.Fatal(err)
	}
	if after, _ := json.Marshal(runA); !bytes.Equal(before, after) {
		t.Error("Write changed the run it rendered")
	}
	if err := Write(dirB, runB); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dirA, MarkdownFile))
	html, _ := os.ReadFile(filepath.Join(dirA, HTMLFile))
	for _, want := range []string{"## Is persistence worth it?", "| [rdb](#trial-worth-it-crash-0) | crash + host | 1,335 | 2.67 s window |",
		"![Hit ratio and origin load after a crash, per strategy](plots/strategies-worth-it-crash.png)", "| Hit ratio back to 90% / 99% of steady | 0.1 s / 0.3 s after the fault |",
		"![What the reader saw: worth-it crash (rdb)](plots/reader-worth-it-crash-0.png)"} {
		if !bytes.Contains(md, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, want := range []string{`<h2 id="worth-it">Is persistence worth it?</h2>`, `<td><a href="#trial-worth-it-crash-0">rdb</a></td><td>crash &#43; host</td><td class="num">1,335</td>`,
		`alt="Hit ratio and origin load after a stop, per strategy"`} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	plots, _ := filepath.Glob(filepath.Join(dirA, PlotsDir, "*.png"))
	for _, p := range plots {
		a, _ := os.ReadFile(p)
		b, err := os.ReadFile(filepath.Join(dirB, PlotsDir, filepath.Base(p)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renders (%v)", filepath.Base(p), err)
		}
		if out := os.Getenv("WORTH_IT_PLOTS"); out != "" {
			_ = os.WriteFile(filepath.Join(out, filepath.Base(p)), a, 0o644)
		}
	}
	for _, f := range []string{MarkdownFile, HTMLFile} {
		a, _ := os.ReadFile(filepath.Join(dirA, f))
		b, _ := os.ReadFile(filepath.Join(dirB, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two renders", f)
		}
	}
}

func TestCompareKeysTrialsByStrategy(t *testing.T) {
	dirA, runA := worthItFixture(t)
	dirB, runB := worthItFixture(t)
	// The later run's none crash took longer to serve again.
	slow := *runB.Trials[0].RTOS * 10
	runB.Trials[0].RTOS = &slow
	runB.RunID = "later"
	c := Compare([]LoadedRun{{Dir: dirA, Run: runA}, {Dir: dirB, Run: runB}}, 0.1)
	keys := map[string]bool{}
	for _, r := range c.Rows {
		keys[r.Key] = true
	}
	for _, k := range []string{"worth-it crash none", "worth-it crash", "worth-it stop none", "worth-it stop", "worth-it stop aof-everysec"} {
		if !keys[k] {
			t.Errorf("no comparison rows for %q (keys %v)", k, keys)
		}
	}
	// The invalid aof-everysec crash has no rows, and a note says why.
	if keys["worth-it crash aof-everysec"] || !strings.Contains(strings.Join(c.Notes, "\n"), "worth-it crash aof-everysec was invalid in the baseline") {
		t.Errorf("invalid aof-everysec crash: rows %v, notes %q", keys["worth-it crash aof-everysec"], c.Notes)
	}
	if len(c.Regressions) != 1 || c.Regressions[0].Key != "worth-it crash none" || c.Regressions[0].Metric != "rto" {
		t.Errorf("regressions %v: want the none crash's RTO alone", c.Regressions)
	}
}
