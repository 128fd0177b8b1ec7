package loadgen

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/trigpointing/valkey-chaos/result"
)

// LatencyCeiling is the largest latency the histograms track; longer values
// are clamped to it. An hour is above any outage a trial can contain, so an
// outage never saturates the histogram.
const LatencyCeiling = time.Hour

// AchievedRate is the rate the server acknowledged, in ops per second: the
// number of ops that completed OK whose Intended time lies in [from, to),
// divided by the window's length. Counting by intended time makes a late but
// acknowledged op count for the moment the schedule wanted it, so the result
// equals the target rate exactly when nothing was dropped or refused;
// lateness shows in Latency instead.
func (h *History) AchievedRate(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	n := 0
	h.each(func(op *Op) {
		if op.Outcome == OK && op.Intended >= from && op.Intended < to {
			n++
		}
	})
	return float64(n) / (to - from).Seconds()
}

// SentRate is the rate of the ops intended in [from, to) that went out
// before to, whatever their reply: how well the writer kept its schedule.
// An op in flight at a crash (unknown) was paced as well as an acknowledged
// one; an op still queued at to, or whose dial was refused, was not sent.
func (h *History) SentRate(from, to time.Duration) float64 {
	if to <= from {
		return 0
	}
	n := 0
	h.each(func(op *Op) {
		if op.Intended >= from && op.Intended < to && op.Sent < to && !(op.Outcome == Fail && op.Err == ErrRefused) {
			n++
		}
	})
	return float64(n) / (to - from).Seconds()
}

// MayHaveApplied counts the ops the server may have applied between from
// and to: an acknowledged op sent before to and acknowledged after from, or
// an unknown one sent before to (a timed-out write can land later). It is an
// upper bound on the harness's changes in that interval whatever the
// machine's load: a writer behind schedule catches up with ops intended
// before from, which a count by intended time would miss.
func (h *History) MayHaveApplied(from, to time.Duration) int {
	n := 0
	h.each(func(op *Op) {
		switch {
		case op.Sent >= to:
		case op.Outcome == OK && op.Done > from, op.Outcome == Unknown:
			n++
		}
	})
	return n
}

// Latency is the distribution, in microseconds, of Done - Intended of the OK
// ops whose Intended time lies in [from, to): latency from the intended send
// time, so time spent waiting behind a slow or absent server counts
// (coordinated omission corrected). The ceiling is LatencyCeiling.
func (h *History) Latency(from, to time.Duration) *hdrhistogram.Histogram {
	hist := newLatencyHistogram()
	h.each(func(op *Op) {
		if op.Outcome == OK && op.Intended >= from && op.Intended < to {
			recordLatency(hist, op.Latency())
		}
	})
	return hist
}

func newLatencyHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, LatencyCeiling.Microseconds(), 3)
}

func recordLatency(hist *hdrhistogram.Histogram, d time.Duration) {
	us := max(d.Microseconds(), 0)
	us = min(us, hist.HighestTrackableValue())
	_ = hist.RecordValue(us) // in range by construction
}

// WriteHgrm writes the percentile distribution of a microsecond histogram in
// the .hgrm text format of HdrHistogram's outputPercentileDistribution (five
// ticks per half distance, values in milliseconds), which HdrHistogram's
// plotter and other tools read.
func WriteHgrm(w io.Writer, h *hdrhistogram.Histogram) error {
	const scale = 1000.0 // µs -> ms
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)")
	if h.TotalCount() > 0 {
		for _, b := range h.CumulativeDistributionWithTicks(5) {
			q := b.Quantile / 100
			value := float64(b.ValueAt) / scale
			if q >= 1 {
				fmt.Fprintf(bw, "%12.3f %2.12f %10d\n", value, 1.0, b.Count)
				continue
			}
			fmt.Fprintf(bw, "%12.3f %2.12f %10d %14.2f\n", value, q, b.Count, 1/(1-q))
		}
	}
	buckets, subBuckets := hdrGeometry(h)
	maxValue := 0.0
	if h.TotalCount() > 0 {
		maxValue = float64(h.Max()) / scale
	}
	fmt.Fprintf(bw, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", h.Mean()/scale, h.StdDev()/scale)
	fmt.Fprintf(bw, "#[Max     = %12.3f, Total count    = %12d]\n", maxValue, h.TotalCount())
	fmt.Fprintf(bw, "#[Buckets = %12d, SubBuckets     = %12d]\n", buckets, subBuckets)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write hgrm: %w", err)
	}
	return nil
}

// hdrGeometry recomputes the bucket and sub-bucket counts the hgrm footer
// reports (the library keeps them unexported), as HdrHistogram does.
func hdrGeometry(h *hdrhistogram.Histogram) (buckets, subBuckets int64) {
	largestSingleUnit := 2 * math.Pow10(int(h.SignificantFigures()))
	subBuckets = int64(1) << int(math.Ceil(math.Log2(largestSingleUnit)))
	unitMagnitude := max(int(math.Floor(math.Log2(float64(h.LowestTrackableValue())))), 0)
	untrackable := subBuckets << unitMagnitude
	buckets = 1
	for untrackable <= h.HighestTrackableValue() {
		if untrackable > math.MaxInt64/2 {
			return buckets + 1, subBuckets
		}
		untrackable <<= 1
		buckets++
	}
	return buckets, subBuckets
}

// Series bins the ops whose Intended time lies in [from, to) by intended
// time, for the trial timeline. The window is rounded up to whole bins, so
// every bin is bin long and rates are counts divided by bin. Per bin:
// acknowledged ops/s, failed and unknown ops/s by error kind (only kinds that
// occurred have a series), and the p50, p99 and max latency from the intended
// time in milliseconds of the acknowledged ops (0 where a bin has none).
//
// A writer's ops come in Seq order with their intended times in order, so
// one bin's latencies are held at a time: a one-hour trial's 72M ops are
// read from its spool without a latency kept per op. Ops out of order (a
// History built by hand) are binned with every bin's latencies held.
func (h *History) Series(from, to, bin time.Duration) result.Series {
	s := result.Series{
		StartS:   from.Seconds(),
		BinS:     bin.Seconds(),
		ErrorsPS: map[string][]float64{},
	}
	if bin <= 0 || to <= from {
		return s
	}
	nbins := int((to - from + bin - 1) / bin)
	if h.seriesInOrder(&s, from, bin, nbins) {
		return s
	}
	s.ErrorsPS = map[string][]float64{}
	lat := make([][]time.Duration, nbins)
	h.seriesPass(&s, from, bin, nbins, func(k int, d time.Duration) bool {
		lat[k] = append(lat[k], d)
		return true
	})
	for k, l := range lat {
		setLatency(&s, k, l)
	}
	return s
}

// seriesInOrder fills s holding the latencies of one bin at a time; false
// when an acknowledged op fell in a bin already closed.
func (h *History) seriesInOrder(s *result.Series, from, bin time.Duration, nbins int) bool {
	var lat []time.Duration
	cur := -1
	ordered := h.seriesPass(s, from, bin, nbins, func(k int, d time.Duration) bool {
		if k < cur {
			return false
		}
		if k > cur {
			if cur >= 0 {
				setLatency(s, cur, lat)
			}
			lat, cur = lat[:0], k
		}
		lat = append(lat, d)
		return true
	})
	if ordered && cur >= 0 {
		setLatency(s, cur, lat)
	}
	return ordered
}

// seriesPass counts the ops into s's rates (made anew) and gives each
// acknowledged op's bin and latency to ack; false when ack stopped it.
func (h *History) seriesPass(s *result.Series, from, bin time.Duration, nbins int, ack func(k int, d time.Duration) bool) bool {
	end := from + time.Duration(nbins)*bin
	s.AckedPS = make([]float64, nbins)
	s.LatP50Ms = make([]float64, nbins)
	s.LatP99Ms = make([]float64, nbins)
	s.LatMaxMs = make([]float64, nbins)
	perS := 1 / bin.Seconds()
	more := true
	h.Each(func(op *Op) bool {
		if op.Intended < from || op.Intended >= end {
			return true
		}
		k := int((op.Intended - from) / bin)
		switch op.Outcome {
		case OK:
			s.AckedPS[k] += perS
			more = ack(k, op.Latency())
		case Fail, Unknown:
			name := op.Err.String()
			if name == "" {
				name = ErrOther.String()
			}
			series := s.ErrorsPS[name]
			if series == nil {
				series = make([]float64, nbins)
				s.ErrorsPS[name] = series
			}
			series[k] += perS
		}
		return more
	})
	return more
}

// setLatency sets bin k's latency quantiles from its acknowledged ops'
// latencies, which it sorts.
func setLatency(s *result.Series, k int, l []time.Duration) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	s.LatP50Ms[k] = ms(nearestRank(l, 0.50))
	s.LatP99Ms[k] = ms(nearestRank(l, 0.99))
	s.LatMaxMs[k] = ms(l[len(l)-1])
}

// nearestRank is the q-quantile of sorted values by the nearest-rank method.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
