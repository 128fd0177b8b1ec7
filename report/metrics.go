package report

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/trigpointing/valkey-chaos/result"
)

// MetricLine is one trial as a dashboard reads it: one JSON object per line.
// Durations are seconds at the run's time scale; null means not measured
// (rto_s null: the cache never served again).
type MetricLine struct {
	RunID                string   `json:"run_id"`
	StartedUnixMs        int64    `json:"started_unix_ms"`
	Scenario             string   `json:"scenario"`
	Fault                string   `json:"fault"`
	Rule                 string   `json:"rule,omitempty"`
	Index                int      `json:"index"`
	Verdict              string   `json:"verdict"`
	ChecksFailed         int      `json:"checks_failed"`
	RatePerS             float64  `json:"rate_per_s"`
	TimeScale            float64  `json:"time_scale"`
	ServerVersion        string   `json:"server_version"`
	TFaultUnixMs         int64    `json:"t_fault_unix_ms"`
	Acked                int      `json:"acked"`
	Lost                 int      `json:"lost"`
	Recovered            int      `json:"recovered"`
	Unknown              int      `json:"unknown"`
	Anomalies            int      `json:"anomalies"`
	Corrupt              int      `json:"corrupt"`
	LossWindowS          *float64 `json:"loss_window_s"`
	LossWindowHighS      *float64 `json:"loss_window_high_s"`
	PredictedLossWindowS float64  `json:"predicted_loss_window_s"`
	WarmupS              *float64 `json:"warmup_s"`
	ServerLoadS          *float64 `json:"server_load_s"`
	RTOS                 *float64 `json:"rto_s"`
	FinalSaveS           *float64 `json:"final_save_s"`
}

// Metrics flattens a run into one MetricLine per trial.
func Metrics(run *result.Run) []MetricLine {
	out := make([]MetricLine, 0, len(run.Trials))
	for i := range run.Trials {
		t := &run.Trials[i]
		m := MetricLine{
			RunID: run.RunID, StartedUnixMs: run.StartedUnixMs, Scenario: t.Scenario, Fault: t.Fault, Rule: t.Rule,
			Index: t.Index, Verdict: string(t.Verdict), RatePerS: t.RatePerS, TimeScale: run.Target.TimeScale,
			ServerVersion: run.Target.ServerVersion, TFaultUnixMs: t.TFaultUnixMs,
			Acked: t.Acked, Lost: t.Lost, Recovered: t.Recovered, Unknown: t.Unknown, Anomalies: t.Anomalies, Corrupt: t.Corrupt,
			PredictedLossWindowS: t.PredictedLossWindowS,
			WarmupS:              t.WarmupS, ServerLoadS: t.ServerLoadS, RTOS: t.RTOS, FinalSaveS: t.FinalSaveS,
		}
		for _, c := range t.Checks {
			if !c.Pass {
				m.ChecksFailed++
			}
		}
		switch w := t.LossWindowS; {
		case unread(t):
			// never read back: the window is unknown (null), not 0
		case t.Lost == 0:
			zero := 0.0
			m.LossWindowS, m.LossWindowHighS = &zero, &zero
		case w != nil:
			est, high := w.Estimate, w.High
			m.LossWindowS, m.LossWindowHighS = &est, &high
		}
		out = append(out, m)
	}
	return out
}

// WriteMetrics writes Metrics(run) as JSON lines.
func WriteMetrics(w io.Writer, run *result.Run) error {
	enc := json.NewEncoder(w)
	for _, m := range Metrics(run) {
		if err := enc.Encode(m); err != nil {
			return fmt.Errorf("encode metrics of %s %s: %w", m.Scenario, m.Fault, err)
		}
	}
	return nil
}
