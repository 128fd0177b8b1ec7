package savepolicy

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// PlanInput is a question about one save configuration.
type PlanInput struct {
	Rules    Rules
	RatePerS float64
	// Profile, when set, is simulated over a day as well (a rate sampled from
	// a live server); RatePerS should be its mean.
	Profile *Profile
	// RDBBytes is the snapshot size (0: unknown; no cost, BGSAVE from BGSave).
	RDBBytes int64
	// BGSave overrides the save duration derived from RDBBytes and Storage.
	BGSave         time.Duration
	StopTimeout    time.Duration
	RestartsPerDay float64 // RDB loads per day, for read charges
	Storage        Storage
}

// bgsave is the modelled save duration and where it came from.
func (in PlanInput) bgsave() (time.Duration, string) {
	switch {
	case in.BGSave > 0:
		return in.BGSave, "given"
	case in.RDBBytes > 0:
		return SaveDuration(in.RDBBytes, in.Storage.WriteMiBps()),
			fmt.Sprintf("%s at %.4g MiB/s", FormatBytes(float64(in.RDBBytes)), in.Storage.WriteMiBps())
	}
	return 0, "taken as 0: no RDB size or BGSAVE time given"
}

// Plan is the model's answer for one rate. Durations are seconds.
type Plan struct {
	Rules            string  `json:"rules"`
	RatePerS         float64 `json:"rate_per_s"`
	Fires            bool    `json:"fires"`
	Rule             string  `json:"rule,omitempty"`
	BoundBy          string  `json:"bound_by,omitempty"` // "seconds" or "changes"
	BGSaveS          float64 `json:"bgsave_s"`
	BGSaveFrom       string  `json:"bgsave_from"`
	PeriodS          float64 `json:"period_s,omitempty"`
	WorstWindowS     float64 `json:"worst_window_s,omitempty"`
	ExpectedWindowS  float64 `json:"expected_window_s,omitempty"`
	OldestLostWriteS float64 `json:"oldest_lost_write_s,omitempty"`
	SavesPerDay      float64 `json:"saves_per_day"`
	RDBBytes         int64   `json:"rdb_bytes,omitempty"`
	Mode             string  `json:"storage_mode"`
	Cost             *Cost   `json:"cost,omitempty"`
	Burst            *Burst  `json:"bursting,omitempty"`
	// After the Bursting credits run out, saves crawl at the baseline.
	WorstWindowAtBaselineS float64        `json:"worst_window_at_baseline_s,omitempty"`
	FinalSaveS             float64        `json:"final_save_s"`
	StopTimeoutS           float64        `json:"stop_timeout_s"`
	StopTimeoutExceeded    bool           `json:"stop_timeout_exceeded"`
	Simulated              *SimulatedPlan `json:"simulated,omitempty"`
	Findings               []string       `json:"findings"`
}

// SimulatedPlan is the day-long simulation of a sampled profile.
type SimulatedPlan struct {
	WorstWindowS     float64 `json:"worst_window_s"`
	ExpectedWindowS  float64 `json:"expected_window_s"`
	OldestLostWriteS float64 `json:"oldest_lost_write_s"`
	SavesPerDay      float64 `json:"saves_per_day"`
}

// MakePlan answers in: which rule fires, the windows, saves and bytes per
// day, the EFS cost, Bursting credits, and whether the final save on SIGTERM
// fits the stop timeout.
func MakePlan(in PlanInput) Plan {
	d, from := in.bgsave()
	p := Plan{
		Rules: in.Rules.String(), RatePerS: in.RatePerS, BGSaveS: d.Seconds(), BGSaveFrom: from,
		RDBBytes: in.RDBBytes, Mode: string(in.Storage.Mode), StopTimeoutS: in.StopTimeout.Seconds(),
		Findings: []string{},
	}
	pred := Predict(in.Rules, in.RatePerS, d)
	if len(in.Rules) == 0 {
		p.Findings = append(p.Findings, `save "": no snapshots at all, and no final save on SIGTERM either: every restart starts empty`)
		return p
	}
	if !pred.Fires {
		p.Findings = append(p.Findings, fmt.Sprintf("at %s no save rule ever fires: nothing is persisted until a graceful stop", FormatRate(in.RatePerS)))
		p.FinalSaveS, p.StopTimeoutExceeded = d.Seconds(), in.StopTimeout > 0 && d > in.StopTimeout
		return p
	}
	p.Fires, p.Rule = true, pred.Rule.String()
	p.BoundBy = "seconds"
	if pred.CountBound {
		p.BoundBy = "changes"
	}
	p.PeriodS = pred.Period.Seconds()
	p.WorstWindowS = pred.WorstWindow.Seconds()
	p.ExpectedWindowS = pred.MeanWindow.Seconds()
	p.OldestLostWriteS = pred.OldestLostWrite.Seconds()
	p.SavesPerDay = pred.SavesPerDay
	p.Findings = append(p.Findings, ruleFinding(pred, in.RatePerS, d))

	if in.RDBBytes > 0 {
		cost := in.Storage.DailyCost(in.RDBBytes, p.SavesPerDay, in.RestartsPerDay)
		p.Cost = &cost
	}
	if in.Storage.Mode == Bursting && in.RDBBytes > 0 {
		b := in.Storage.Bursting(in.RDBBytes, p.SavesPerDay, in.RestartsPerDay)
		p.Burst = &b
		if !b.Sustainable {
			slow := Predict(in.Rules, in.RatePerS, b.SaveAtBaseline)
			p.WorstWindowAtBaselineS = slow.WorstWindow.Seconds()
			padding := in.Storage.DailyCost(int64(b.StoredBytesNeeded), 0, 0).StorageUSD
			p.Findings = append(p.Findings, fmt.Sprintf(
				"Bursting cannot sustain this: snapshots need %s/s on average, the baseline is %s/s; a full credit balance lasts %.1f days, then each save, and the final save on SIGTERM, takes %s and the worst window grows to %s (use Elastic, or store %s on the file system to raise the baseline: %s/day of storage)",
				FormatBytes(b.DemandBytesPerS), FormatBytes(b.BaselineBytesPerS), b.DaysFromFull,
				fmtDuration(b.SaveAtBaseline), fmtDuration(slow.WorstWindow), FormatBytes(b.StoredBytesNeeded), fmtUSD(padding)))
		}
	}
	// The final save is a foreground SAVE of the same data at the same rate.
	final := d
	p.FinalSaveS = final.Seconds()
	if in.StopTimeout > 0 && final > in.StopTimeout {
		p.StopTimeoutExceeded = true
		p.Findings = append(p.Findings, fmt.Sprintf(
			"the final save on SIGTERM takes about %s, more than the %s stop timeout: ECS SIGKILLs it mid-save and a StopTask loses up to %s of writes (raise stop_timeout, up to 120 s on Fargate, or shrink the dataset)",
			fmtDuration(final), fmtDuration(in.StopTimeout), fmtDuration(pred.WorstWindow)))
	}
	if in.Profile != nil {
		sim := Simulate(in.Rules, *in.Profile, BGSave{Duration: d}, 24*time.Hour)
		p.Simulated = &SimulatedPlan{
			WorstWindowS: sim.WorstWindow.Seconds(), ExpectedWindowS: sim.MeanWindow.Seconds(),
			OldestLostWriteS: sim.OldestLostWrite.Seconds(), SavesPerDay: sim.SavesPerDay,
		}
	}
	return p
}

// ruleFinding says in words which rule fires and why the window is what it is.
func ruleFinding(pred Prediction, rate float64, d time.Duration) string {
	r := pred.Rule
	if pred.CountBound {
		return fmt.Sprintf("at %s rule %q fires once its %d changes arrive (%s, later than its %d s): worst window = changes/rate + a 0.1 s tick + BGSAVE = %s",
			FormatRate(rate), r, r.Changes, fmtDuration(seconds(float64(r.Changes)/rate)), r.Seconds, fmtDuration(pred.WorstWindow))
	}
	why := ""
	if r.Changes > 0 {
		why = fmt.Sprintf(" (its %d changes arrive in %s)", r.Changes, fmtDuration(seconds(float64(r.Changes)/rate)))
	}
	return fmt.Sprintf("at %s rule %q fires on its clock, %d s after the last save ended%s: worst window = %d s + 1.1 s clock and tick + 2 x BGSAVE (%s) = %s",
		FormatRate(rate), r, r.Seconds, why, r.Seconds, fmtDuration(d), fmtDuration(pred.WorstWindow))
}

// PlanRange answers in at n log-spaced rates from lo to hi, plus a rate on
// each side of every threshold inside the range, ascending.
func PlanRange(in PlanInput, lo, hi float64, n int) []Plan {
	rates := LogSpace(lo, hi, n)
	for _, t := range Thresholds(in.Rules) {
		for _, r := range []float64{t.Rate * 0.97, t.Rate * 1.03} {
			if r > lo && r < hi {
				rates = append(rates, r)
			}
		}
	}
	sort.Float64s(rates)
	plans := make([]Plan, 0, len(rates))
	for _, r := range rates {
		in.RatePerS = r
		plans = append(plans, MakePlan(in))
	}
	return plans
}

// WriteText prints p as a short table with its findings.
func (p Plan) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "save %q at %s\n", p.Rules, FormatRate(p.RatePerS))
	if p.Fires {
		fmt.Fprintf(tw, "  rule that fires\t%s (bound by its %s)\n", p.Rule, p.BoundBy)
	}
	fmt.Fprintf(tw, "  BGSAVE\t%s (%s)\n", fmtSeconds(p.BGSaveS), p.BGSaveFrom)
	if p.Fires {
		fmt.Fprintf(tw, "  snapshot period\t%s fork to fork\n", fmtSeconds(p.PeriodS))
		fmt.Fprintf(tw, "  worst loss window\t%s\n", fmtSeconds(p.WorstWindowS))
		fmt.Fprintf(tw, "  expected window\t%s (fault uniform in time)\n", fmtSeconds(p.ExpectedWindowS))
		fmt.Fprintf(tw, "  oldest lost write\t%s (worst)\n", fmtSeconds(p.OldestLostWriteS))
		fmt.Fprintf(tw, "  saves/day\t%.0f\n", p.SavesPerDay)
	}
	if p.Simulated != nil {
		s := p.Simulated
		fmt.Fprintf(tw, "  simulated day\tworst %s, expected %s, %.0f saves\n", fmtSeconds(s.WorstWindowS), fmtSeconds(s.ExpectedWindowS), s.SavesPerDay)
	}
	if c := p.Cost; c != nil {
		fmt.Fprintf(tw, "  bytes written/day\t%s\n", FormatBytes(c.WriteBytesPerDay))
		fmt.Fprintf(tw, "  EFS %s\t%s/day, %s/month (%s)\n", p.Mode, fmtUSD(c.TotalUSD), fmtUSD(c.TotalUSDPerMonth), costParts(*c))
	}
	if b := p.Burst; b != nil {
		state := "sustainable"
		if !b.Sustainable {
			state = fmt.Sprintf("drains %s/day, %.1f days from full", FormatBytes(-b.NetBytesPerDay), b.DaysFromFull)
		}
		fmt.Fprintf(tw, "  burst credits\tdemand %s/s vs baseline %s/s: %s\n", FormatBytes(b.DemandBytesPerS), FormatBytes(b.BaselineBytesPerS), state)
	}
	verdict := "fits"
	if p.StopTimeoutExceeded {
		verdict = "EXCEEDS"
	}
	if p.StopTimeoutS > 0 {
		fmt.Fprintf(tw, "  final save (SIGTERM)\t%s: %s the %s stop timeout\n", fmtSeconds(p.FinalSaveS), verdict, fmtSeconds(p.StopTimeoutS))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range p.Findings {
		if _, err := fmt.Fprintf(w, "- %s\n", f); err != nil {
			return err
		}
	}
	return nil
}

// WriteRangeText prints plans (one rule set across rates) as one table.
func WriteRangeText(w io.Writer, plans []Plan) error {
	if len(plans) == 0 {
		return nil
	}
	first := plans[0]
	fmt.Fprintf(w, "save %q, BGSAVE %s (%s)\n", first.Rules, fmtSeconds(first.BGSaveS), first.BGSaveFrom)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rate\trule\tbound by\tworst window\texpected\toldest lost write\tsaves/day\tbytes/day\t$/day\t$/month\t")
	for _, p := range plans {
		if !p.Fires {
			fmt.Fprintf(tw, "%s\t-\t-\tnever saves\t\t\t0\t\t\t\t\n", FormatRate(p.RatePerS))
			continue
		}
		bytes, usd, month := "-", "-", "-"
		if p.Cost != nil {
			bytes, usd, month = FormatBytes(p.Cost.WriteBytesPerDay), fmtUSD(p.Cost.TotalUSD), fmtUSD(p.Cost.TotalUSDPerMonth)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t\n", FormatRate(p.RatePerS), p.Rule, p.BoundBy,
			fmtSeconds(p.WorstWindowS), fmtSeconds(p.ExpectedWindowS), fmtSeconds(p.OldestLostWriteS), p.SavesPerDay, bytes, usd, month)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var exceeded []string
	for _, p := range plans {
		if p.StopTimeoutExceeded {
			exceeded = append(exceeded, FormatRate(p.RatePerS))
		}
	}
	if len(exceeded) > 0 {
		_, err := fmt.Fprintf(w, "- the final save on SIGTERM (%s) exceeds the %s stop timeout: a StopTask loses writes\n", fmtSeconds(plans[0].FinalSaveS), fmtSeconds(plans[0].StopTimeoutS))
		return err
	}
	return nil
}

func costParts(c Cost) string {
	var parts []string
	for _, x := range []struct {
		name string
		usd  float64
	}{{"writes", c.WriteUSD}, {"reads", c.ReadUSD}, {"provisioned", c.ProvisionedUSD}, {"storage", c.StorageUSD}} {
		if x.usd > 0 {
			parts = append(parts, x.name+" "+fmtUSD(x.usd))
		}
	}
	return strings.Join(parts, ", ")
}

func fmtDuration(d time.Duration) string { return FormatDuration(d) }

func fmtSeconds(s float64) string {
	switch {
	case math.IsInf(s, 0) || s > 1e9:
		return "forever"
	case s < 100:
		return fmt.Sprintf("%.1f s", s)
	case s < 10000:
		return fmt.Sprintf("%.0f s", s)
	case s < 48*3600:
		return fmt.Sprintf("%.1f h", s/3600)
	}
	return fmt.Sprintf("%.1f days", s/86400)
}

// fmtUSD renders dollars: cents when it matters, three digits when small.
func fmtUSD(usd float64) string {
	if usd >= 0.01 || usd == 0 {
		return fmt.Sprintf("$%.2f", usd)
	}
	return fmt.Sprintf("$%.2g", usd)
}
