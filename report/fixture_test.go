package report

import (
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/slo"
)

// The fixture in testdata/run is a thresholds run at time scale 0.01 as the
// runner would write it, built from a simulated open-loop op schedule so the
// numbers agree with each other (acked, lost, bracket, series, hgrm). It is
// committed; regenerate it with
//
//	go test ./report -run TestRegenerateFixture -regen-fixture
var regenFixture = flag.Bool("regen-fixture", false, "rewrite testdata/run from the simulated trials")

const fixtureDir = "testdata/run"

func TestRegenerateFixture(t *testing.T) {
	if !*regenFixture {
		t.Skip("fixture is committed; pass -regen-fixture to rebuild it")
	}
	run, hgrms := buildFixture()
	if err := os.MkdirAll(filepath.Join(fixtureDir, "trials"), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, data := range hgrms {
		if err := os.WriteFile(filepath.Join(fixtureDir, path), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := result.Write(fixtureDir, run); err != nil {
		t.Fatal(err)
	}
}

// simTrial describes one trial of the fixture; times are seconds from trial start.
type simTrial struct {
	fault, rule, scaledRule string
	rate, achieved          float64
	saves                   []result.Save
	bgsave                  float64
	fork                    float64 // fork instant of the snapshot the recovery loads
	steps                   map[string]float64
	finalSave               *result.Save
	end                     float64
	hgrm                    bool
	leak                    *result.TempFileLeak
}

type simOp struct {
	at      float64 // intended send time
	latMs   float64
	outcome string // ok, fail, unknown
	kind    string // error kind
}

func (s simTrial) ops(rng *rand.Rand) []simOp {
	var out []simOp
	st := s.steps
	for k := 0; ; k++ {
		at := 0.05 + float64(k)/s.achieved
		if at >= s.end {
			break
		}
		op := simOp{at: at, outcome: "ok", latMs: 0.25 + rng.ExpFloat64()*0.08}
		// A fork stalls the event loop for about 12 ms.
		for _, sv := range s.saves {
			if at >= sv.StartS && at < sv.StartS+0.012 {
				op.latMs += (sv.StartS + 0.012 - at) * 1000
			}
		}
		switch {
		case at < st["fault"]:
		case s.fault == "stop" && at < st["fault"]+0.02:
			// Served before the shutdown began.
		case s.fault == "stop" && at < st["old_gone"]-1:
			op.outcome, op.kind = "unknown", "timeout" // blocked by the final save, 1 s client timeout
		case at < st["old_gone"]:
			op.outcome, op.kind = "unknown", "conn"
		case at < st["port_accepts"]:
			op.outcome, op.kind = "fail", "refused"
		case at < st["ready"]:
			op.outcome, op.kind = "fail", "loading"
		case at < st["serving"]+0.25:
			op.latMs += 2 + rng.Float64()*4 // the pool reconnects
		}
		out = append(out, op)
	}
	return out
}

func buildFixture() (*result.Run, map[string][]byte) {
	rng := rand.New(rand.NewSource(7))
	rules, _ := savepolicy.Parse("900 1 300 10 60 10000")
	scaled := rules.Scale(0.01)
	slos, _ := slo.ParseAll([]string{"loss_window<=6s"})
	stopSLOs, _ := slo.ParseAll([]string{"lost_on_stop==0", "anomalies==0"})
	crashSLOs, _ := slo.ParseAll([]string{"anomalies==0"})

	recovery := func(fault, gone float64, load float64) map[string]float64 {
		started := gone + 0.006
		return map[string]float64{
			"fault": fault, "old_gone": gone, "new_started": started,
			"port_accepts": started + 0.033, "first_reply": started + 0.036,
			"loaded": started + 0.040 + load, "ready": started + 0.046 + load, "serving": started + 0.049 + load,
		}
	}
	save := func(from, to float64, trigger string) result.Save {
		return result.Save{StartS: from, EndS: to, OK: true, Trigger: trigger, Source: "server-log"}
	}
	sims := []simTrial{
		{fault: "crash", rule: "300 10", scaledRule: "3 10", rate: 105.4, achieved: 105.4,
			saves: []result.Save{save(1.20, 3.62, "3 10"), save(7.13, 9.55, "3 10")}, bgsave: 2.42, fork: 7.13,
			steps: recovery(12.25, 12.262, 2.69), end: 16.25, hgrm: true},
		{fault: "stop", rule: "300 10", scaledRule: "3 10", rate: 105.4, achieved: 105.3,
			saves: []result.Save{save(1.10, 3.50, "3 10"), save(7.02, 9.41, "3 10")}, bgsave: 2.39,
			finalSave: &result.Save{StartS: 12.13, EndS: 14.18, OK: true, Trigger: "shutdown", Source: "server-log"},
			steps:     recovery(12.11, 14.205, 2.78), end: 18.0, hgrm: true},
		{fault: "crash", rule: "900 1", scaledRule: "9 1", rate: 0.889, achieved: 0.889,
			saves: []result.Save{save(0.40, 2.81, "9 1"), save(12.41, 14.83, "9 1")}, bgsave: 2.42, fork: 12.41,
			steps: recovery(22.93, 22.941, 2.72), end: 26.75},
		{fault: "crash", rule: "60 10000", scaledRule: "1 10000", rate: 12000, achieved: 9100,
			saves: []result.Save{save(0.30, 2.75, "1 10000"), save(3.85, 6.30, "1 10000"), {StartS: 7.26, OK: false, Trigger: "1 10000", Source: "server-log"}}, bgsave: 2.45, fork: 3.85,
			steps: recovery(7.30, 7.312, 2.71), end: 10.5, hgrm: true,
			leak: &result.TempFileLeak{Files: []string{"temp-48213.rdb"}, Bytes: 2_310_144, Removed: true}},
	}

	run := &result.Run{
		Schema: result.Schema, RunID: "20260115-101500-ab12", Complete: true,
		StartedUnixMs: 1768472100000, FinishedUnixMs: 1768472260000,
		Harness: result.Harness{Version: "v0.1.0", GoVersion: "go1.26.8"},
		Args:    []string{"run", "--time-scale", "0.01", "--slo", "loss_window<=6s", "thresholds"},
		Target: result.Target{Kind: "local", ServerVersion: "8.0.1", ServerBin: "/usr/bin/valkey-server",
			Save: scaled.String(), SaveReal: rules.String(), TimeScale: 0.01, StopTimeoutS: 30, Storage: "local-disk",
			Dataset: result.Dataset{Keys: 500000, ValueBytes: 100, RDBBytes: 57_020_416}},
		SLOs: []string{"loss_window<=6s"},
	}
	hgrms := map[string][]byte{}
	start := run.StartedUnixMs + 9000
	for i, s := range sims {
		ops := s.ops(rng)
		label := fmt.Sprintf("thresholds-%s-%s-0", s.fault, sanitize(s.rule))
		tr := result.Trial{Scenario: "thresholds", Fault: s.fault, Seed: 1, Rule: s.rule,
			TrialStartUnixMs: start, RatePerS: s.rate, AchievedRatePerS: s.achieved}
		pred := savepolicy.Predict(scaled, s.rate, time.Duration(s.bgsave*float64(time.Second)))
		tr.PredictedLossWindowS = round3(pred.WorstWindow.Seconds())
		tr.PredictedRule = pred.Rule.String()
		tr.BGSaveS = s.bgsave
		tf := s.steps["fault"]
		tr.TFaultUnixMs = start + int64(tf*1000)

		// Outcomes: everything acknowledged after the fork of the loaded
		// snapshot and before the fault is lost on a crash.
		var lostFirst, lostLast = math.Inf(1), math.Inf(-1)
		var maxSurvivorSent, minLostDone = math.Inf(-1), math.Inf(1)
		hist := hdrhistogram.New(1, 60_000_000, 3)
		for _, op := range ops {
			tr.Writes++
			switch op.outcome {
			case "ok":
				tr.Acked++
				_ = hist.RecordValue(int64(op.latMs * 1000))
				if s.fault == "crash" && op.at > s.fork && op.at < tf {
					tr.Lost++
					lostFirst, lostLast = math.Min(lostFirst, op.at), math.Max(lostLast, op.at)
					minLostDone = math.Min(minLostDone, op.at+op.latMs/1000)
				} else if op.at < tf {
					maxSurvivorSent = math.Max(maxSurvivorSent, op.at)
				}
			case "fail":
				tr.Failed++
			default:
				tr.Unknown++
			}
		}
		if tr.Lost > 0 {
			tr.LostSpanS = &result.Span{From: round3(lostFirst), To: round3(lostLast)}
			tr.LossWindowS = &result.Window{Low: round3(tf - minLostDone), High: round3(tf - maxSurvivorSent), Estimate: round3(tf - s.fork)}
			tr.SnapshotUnixMs = start + int64(s.fork*1000)
			tr.SnapshotSource = "server-log"
		} else {
			tr.LossWindowS = &result.Window{}
		}

		st := s.steps
		names := make([]string, 0, len(st))
		for n := range st {
			names = append(names, n)
		}
		sort.Slice(names, func(a, b int) bool { return st[names[a]] < st[names[b]] })
		for _, n := range names {
			src := map[string]string{"fault": "client", "old_gone": "process", "new_started": "process", "loaded": "server-log"}[n]
			if src == "" {
				src = "probe"
			}
			tr.Steps = append(tr.Steps, result.Step{Name: n, AtS: st[n], UnixMs: start + int64(st[n]*1000), Source: src})
		}
		warm := round3(st["ready"] - st["new_started"])
		load := round3(st["loaded"] - st["new_started"] - 0.040)
		rto := round3(st["serving"] - tf)
		tr.WarmupS, tr.ServerLoadS, tr.RTOS = &warm, &load, &rto
		tr.Saves = append(tr.Saves, s.saves...)
		if s.finalSave != nil {
			tr.Saves = append(tr.Saves, *s.finalSave)
			fs := round3(s.finalSave.EndS - s.finalSave.StartS)
			tr.FinalSaveS = &fs
		}
		tr.Leaks = s.leak

		tr.Series = series(ops, 0.25, s.end)
		tr.Latency = &result.Latency{
			P50: ms(hist.ValueAtQuantile(50)), P90: ms(hist.ValueAtQuantile(90)), P99: ms(hist.ValueAtQuantile(99)),
			P999: ms(hist.ValueAtQuantile(99.9)), Max: ms(hist.Max()), Count: hist.TotalCount(),
		}
		tr.Files.ServerLogs = []string{"logs/" + label + ".log"}
		tr.Files.History = "trials/" + label + ".history.bin"
		if s.hgrm {
			tr.Files.Hgrm = "trials/" + label + ".hgrm"
			var b bytesWriter
			if _, err := hist.PercentilesPrint(&b, 5, 1000); err != nil {
				panic(err)
			}
			hgrms[tr.Files.Hgrm] = b
		}

		// Verdict as the runner decides it.
		expect := crashSLOs
		if s.fault == "stop" {
			expect = stopSLOs
		}
		tr.Checks = slo.Evaluate(&tr, append(append([]slo.SLO{}, expect...), slos...))
		tr.Reasons = []string{}
		if s.achieved < 0.95*s.rate {
			tr.Verdict = "invalid"
			tr.Reasons = append(tr.Reasons, fmt.Sprintf("achieved %.4g writes/s before the fault, more than 5%% short of the target %.4g/s", s.achieved, s.rate))
		} else {
			for _, c := range tr.Checks {
				if !c.Pass {
					tr.Reasons = append(tr.Reasons, fmt.Sprintf("SLO %s failed: observed %g", c.Name, *c.Observed))
				}
			}
			tr.Verdict = "pass"
			if len(tr.Reasons) > 0 {
				tr.Verdict = "fail"
			}
		}
		run.Trials = append(run.Trials, tr)
		start += int64(s.end*1000) + 4000 + int64(i)*17
	}
	return run, hgrms
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func ms(us int64) float64 { return round3(float64(us) / 1000) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func sanitize(rule string) string {
	out := []rune(rule)
	for i, r := range out {
		if r == ' ' {
			out[i] = '-'
		}
	}
	return string(out)
}

// series bins ops by intended send time, as loadgen's History.Series does.
func series(ops []simOp, bin, end float64) *result.Series {
	n := int(math.Ceil(end / bin))
	s := &result.Series{StartS: 0, BinS: bin, AckedPS: make([]float64, n), ErrorsPS: map[string][]float64{},
		LatP50Ms: make([]float64, n), LatP99Ms: make([]float64, n), LatMaxMs: make([]float64, n)}
	lats := make([][]float64, n)
	for _, op := range ops {
		i := int(op.at / bin)
		if i >= n {
			continue
		}
		if op.outcome == "ok" {
			s.AckedPS[i] += 1 / bin
			lats[i] = append(lats[i], op.latMs)
			continue
		}
		if s.ErrorsPS[op.kind] == nil {
			s.ErrorsPS[op.kind] = make([]float64, n)
		}
		s.ErrorsPS[op.kind][i] += 1 / bin
	}
	for i, ls := range lats {
		if len(ls) == 0 {
			continue
		}
		sort.Float64s(ls)
		q := func(p float64) float64 { return round3(ls[int(math.Ceil(p*float64(len(ls))))-1]) }
		s.LatP50Ms[i], s.LatP99Ms[i], s.LatMaxMs[i] = q(0.5), q(0.99), round3(ls[len(ls)-1])
	}
	return s
}
