package efs

import (
	"fmt"
	"strings"
	"time"
)

// Stats is what a mount has done so far. Durations are in seconds, as in
// result.json.
type Stats struct {
	Mode   Mode   `json:"mode"`
	Config string `json:"config"`
	// LimitMiBps is the metered throughput limit in force now (bursting: the
	// burst rate while at least 1 MiB of credits is left, then the
	// baseline); 0 when unlimited.
	LimitMiBps float64 `json:"limit_mibps"`
	// CreditBytes is the burst credit balance now (bursting mode only).
	CreditBytes  int64 `json:"credit_bytes"`
	BytesRead    int64 `json:"bytes_read"`
	BytesWritten int64 `json:"bytes_written"`
	// MeteredBytes is what counted against the limit (reads at ReadMetering).
	MeteredBytes int64         `json:"metered_bytes"`
	Ops          map[Op]int64  `json:"ops"`
	Faults       []ActiveFault `json:"faults"`
	// ElapsedSeconds is the time since the mount.
	ElapsedSeconds float64 `json:"elapsed_s"`
	// ThrottledSeconds sums the waits the limit and slow faults imposed on
	// requests; LatencySeconds sums the injected request latency.
	ThrottledSeconds float64 `json:"throttled_s"`
	LatencySeconds   float64 `json:"latency_s"`
	// ActiveSeconds is the wall time data was moving (a read or write in
	// flight, pauses under 100 ms included).
	ActiveSeconds float64 `json:"active_s"`
	// SaturatedSeconds is the part of it during which the limit held
	// requests back.
	SaturatedSeconds float64 `json:"saturated_s"`
	// ObservedMiBps is bytes read and written per active second.
	ObservedMiBps float64 `json:"observed_mibps"`
	// ModelledMiBps is the average metered limit over the data moved: what
	// EFS would have allowed.
	ModelledMiBps float64 `json:"modelled_mibps"`
	// EmulatorBottleneck is set when data moved well below the modelled
	// limit while requests were in flight and the limit seldom held them
	// back: FUSE on this machine (or the application), not the modelled EFS,
	// set the pace, so times measured through this mount are not EFS times.
	EmulatorBottleneck bool `json:"emulator_bottleneck"`
	// Note says the same in words, when there is something to say.
	Note string `json:"note,omitempty"`
}

// Thresholds of the bottleneck verdict: at least 0.2 s of transfer,
// the limit holding requests back under half that time, and metered
// throughput under 75% of the modelled limit.
const (
	minActiveForVerdict = 200 * time.Millisecond
	saturatedShare      = 0.5
	reachedShare        = 0.75
)

// Stats reports the counters, the credit balance and the bottleneck verdict.
func (f *FS) Stats() Stats {
	now := time.Now()
	ms := f.meter.state(now)
	s := Stats{
		Mode:             f.cfg.Mode,
		Config:           f.cfg.String(),
		LimitMiBps:       ms.limit / mib,
		CreditBytes:      int64(ms.credits),
		BytesRead:        f.bytesRead.Load(),
		BytesWritten:     f.bytesWritten.Load(),
		MeteredBytes:     int64(ms.metered),
		Ops:              map[Op]int64{},
		Faults:           f.faults.list(),
		ElapsedSeconds:   now.Sub(f.started).Seconds(),
		ThrottledSeconds: time.Duration(f.throttled.Load()).Seconds(),
		LatencySeconds:   time.Duration(f.latencySum.Load()).Seconds(),
		SaturatedSeconds: ms.saturated.Seconds(),
	}
	for _, op := range Ops {
		s.Ops[op] = f.ops[op].Load()
	}
	active := f.activity.active(now)
	s.ActiveSeconds = active.Seconds()
	if active > 0 {
		s.ObservedMiBps = float64(s.BytesRead+s.BytesWritten) / mib / active.Seconds()
	}
	if ms.ideal > 0 {
		s.ModelledMiBps = ms.metered / mib / ms.ideal.Seconds()
	}
	s.EmulatorBottleneck, s.Note = verdict(f.cfg.Mode, active, ms)
	return s
}

// verdict decides whether the modelled limit or something slower set the pace.
func verdict(mode Mode, active time.Duration, ms meterState) (bool, string) {
	if mode == Unlimited || active < minActiveForVerdict || ms.ideal <= 0 {
		return false, ""
	}
	modelled := ms.metered / ms.ideal.Seconds()
	reached := ms.metered / active.Seconds()
	if ms.saturated.Seconds() >= saturatedShare*active.Seconds() || reached >= reachedShare*modelled {
		return false, ""
	}
	return true, fmt.Sprintf("the emulator was the bottleneck: data moved at %.1f MiB/s (metered) while the modelled EFS allows %.1f MiB/s; FUSE on this machine (or the application) set the pace, so these times are not EFS times",
		reached/mib, modelled/mib)
}

// String is a short multi-line summary for the CLI.
func (s Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config:     %s\n", s.Config)
	if s.LimitMiBps > 0 {
		fmt.Fprintf(&b, "limit now:  %.3f MiB/s", s.LimitMiBps)
		if s.Mode == Bursting {
			fmt.Fprintf(&b, " (credits %s)", FormatBytes(s.CreditBytes))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "data:       read %s, written %s, metered %s in %.2f s active of %.1f s\n",
		FormatBytes(s.BytesRead), FormatBytes(s.BytesWritten), FormatBytes(s.MeteredBytes), s.ActiveSeconds, s.ElapsedSeconds)
	fmt.Fprintf(&b, "throughput: observed %.2f MiB/s, modelled %.2f MiB/s; throttled %.2f s, saturated %.2f s, latency %.2f s\n",
		s.ObservedMiBps, s.ModelledMiBps, s.ThrottledSeconds, s.SaturatedSeconds, s.LatencySeconds)
	ops := make([]string, 0, len(Ops))
	for _, op := range Ops {
		ops = append(ops, fmt.Sprintf("%s %d", op, s.Ops[op]))
	}
	fmt.Fprintf(&b, "ops:        %s\n", strings.Join(ops, ", "))
	for _, af := range s.Faults {
		fmt.Fprintf(&b, "fault %d:    %s, %d hits, since %s\n", af.ID, af.Fault, af.Hits, af.Since.Format(time.TimeOnly))
	}
	if s.Note != "" {
		fmt.Fprintf(&b, "note:       %s\n", s.Note)
	}
	return b.String()
}
