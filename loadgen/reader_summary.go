package loadgen

import (
	"slices"
	"time"
)

// ReadSummaryOptions say how to summarise reads around a fault.
type ReadSummaryOptions struct {
	// Fault is the fault instant (offset from the trial base).
	Fault time.Duration
	// Bin is the width of a time-series bin (default 100 ms). Bins are
	// aligned to Fault: bin k covers [Fault + k*Bin, Fault + (k+1)*Bin).
	Bin time.Duration
	// Steady is the window before the fault whose hit ratio is the steady
	// state (default 5 s), clamped to the first read.
	Steady time.Duration
}

// ReadBin is one bin of the reader's time series; reads fall in it by their
// intended time, origin requests by the time the fetch began.
type ReadBin struct {
	SinceFaultS float64 `json:"since_fault_s"` // bin start - fault
	Reads       int     `json:"reads"`
	Hits        int     `json:"hits"`
	Misses      int     `json:"misses"`
	Errors      int     `json:"errors"`
	// HitRatio is Hits / Reads (errors count as reads that did not hit); 0
	// when the bin has no reads.
	HitRatio   float64 `json:"hit_ratio"`
	Origin     int     `json:"origin_requests"`
	OriginPerS float64 `json:"origin_per_s"`
	// LatP50Ms and LatP99Ms are of the GETs that got a reply (hit or miss),
	// from the intended time; 0 when none did.
	LatP50Ms float64 `json:"lat_p50_ms"`
	LatP99Ms float64 `json:"lat_p99_ms"`
}

// ReadSummary is what the application saw through a fault. Durations are
// in seconds from the fault unless named otherwise.
type ReadSummary struct {
	Reads  int `json:"reads"`
	Hits   int `json:"hits"`
	Misses int `json:"misses"`
	Errors int `json:"errors"`
	// ErrorsByKind counts failed reads by kind (refused, loading, timeout,
	// conn, other).
	ErrorsByKind map[string]int `json:"errors_by_kind"`
	// Fills are the acknowledged SETs after misses: changes to the dataset
	// the server counts like any write.
	Fills  int `json:"fills"`
	Origin int `json:"origin_requests"`

	// SteadyHitRatio is Hits / Reads over the reads intended in
	// [SteadyFromS, fault); SteadyOriginPerS the origin requests begun in
	// that window per second.
	SteadyFromS      float64 `json:"steady_from_s"`
	SteadyReads      int     `json:"steady_reads"`
	SteadyHitRatio   float64 `json:"steady_hit_ratio"`
	SteadyOriginPerS float64 `json:"steady_origin_per_s"`

	// To90S and To99S: from the fault to the end of the first bin at or
	// after it whose hit ratio is at least 90% (99%) of SteadyHitRatio;
	// exact to one bin. Reached is false when no bin got there.
	To90S      float64 `json:"to_90pct_s"`
	Reached90  bool    `json:"reached_90pct"`
	To99S      float64 `json:"to_99pct_s"`
	Reached99  bool    `json:"reached_99pct"`
	RecoveryS  float64 `json:"recovery_s"` // To99S, or to the last read when not reached
	RecoveryOK bool    `json:"recovery_reached"`
	// OriginDuringRecovery is the origin requests begun in [fault, fault +
	// RecoveryS); ExtraOrigin is that minus SteadyOriginPerS x RecoveryS:
	// the load the cache's loss put on the database.
	OriginDuringRecovery int     `json:"origin_during_recovery"`
	OriginPerSRecovery   float64 `json:"origin_per_s_during_recovery"`
	ExtraOrigin          float64 `json:"extra_origin_requests"`

	// FirstErrorS is when the first read failed at or after the fault (Done;
	// -1: none did). ClientGapS is the longest stretch from the fault on in
	// which no read got a reply, and ClientBackS the reply that ended it:
	// how long the application's own client took to come back, to compare
	// with the raw probe (-1: no read succeeded after the fault).
	FirstErrorS float64 `json:"first_error_s"`
	ClientGapS  float64 `json:"client_gap_s"`
	ClientBackS float64 `json:"client_back_s"`

	BinS float64   `json:"bin_s"`
	Bins []ReadBin `json:"bins"`
}

const (
	defaultReadBin    = 100 * time.Millisecond
	defaultReadSteady = 5 * time.Second
)

// SummarizeReads computes the ReadSummary of reads (in any order) around
// opt.Fault.
func SummarizeReads(reads []Read, opt ReadSummaryOptions) ReadSummary {
	if opt.Bin <= 0 {
		opt.Bin = defaultReadBin
	}
	if opt.Steady <= 0 {
		opt.Steady = defaultReadSteady
	}
	s := ReadSummary{ErrorsByKind: map[string]int{}, BinS: opt.Bin.Seconds(), FirstErrorS: -1, ClientGapS: -1, ClientBackS: -1}
	if len(reads) == 0 {
		return s
	}
	s.countTotals(reads)
	s.steadyState(reads, opt)
	s.Bins = readBins(reads, opt)
	s.recovery(reads, opt)
	s.clientBack(reads, opt.Fault)
	return s
}

func (s *ReadSummary) countTotals(reads []Read) {
	for i := range reads {
		rd := &reads[i]
		s.Reads++
		switch rd.Result {
		case Hit:
			s.Hits++
		case Miss:
			s.Misses++
		case ReadError:
			s.Errors++
			name := rd.Err.String()
			if name == "" {
				name = ErrOther.String()
			}
			s.ErrorsByKind[name]++
		}
		if rd.Origin {
			s.Origin++
		}
		if rd.Fill == FillOK {
			s.Fills++
		}
	}
}

func (s *ReadSummary) steadyState(reads []Read, opt ReadSummaryOptions) {
	from := opt.Fault - opt.Steady
	first := reads[0].Intended
	for i := range reads {
		first = min(first, reads[i].Intended)
	}
	from = max(from, first)
	s.SteadyFromS = (from - opt.Fault).Seconds()
	hits, origin := 0, 0
	for i := range reads {
		rd := &reads[i]
		if rd.Intended >= from && rd.Intended < opt.Fault {
			s.SteadyReads++
			if rd.Result == Hit {
				hits++
			}
		}
		if rd.Origin && rd.OriginAt >= from && rd.OriginAt < opt.Fault {
			origin++
		}
	}
	if s.SteadyReads > 0 {
		s.SteadyHitRatio = float64(hits) / float64(s.SteadyReads)
	}
	if span := opt.Fault - from; span > 0 {
		s.SteadyOriginPerS = float64(origin) / span.Seconds()
	}
}

// readBins bins the reads from the first read's bin to the last one's.
func readBins(reads []Read, opt ReadSummaryOptions) []ReadBin {
	binOf := func(t time.Duration) int64 {
		d := t - opt.Fault
		k := int64(d / opt.Bin)
		if d < 0 && d%opt.Bin != 0 {
			k-- // floor, not truncation
		}
		return k
	}
	lo, hi := binOf(reads[0].Intended), binOf(reads[0].Intended)
	for i := range reads {
		k := binOf(reads[i].Intended)
		lo, hi = min(lo, k), max(hi, k)
	}
	bins := make([]ReadBin, hi-lo+1)
	lat := make([][]time.Duration, len(bins))
	for i := range bins {
		bins[i].SinceFaultS = (time.Duration(lo+int64(i)) * opt.Bin).Seconds()
	}
	for i := range reads {
		rd := &reads[i]
		b := &bins[binOf(rd.Intended)-lo]
		b.Reads++
		switch rd.Result {
		case Hit:
			b.Hits++
		case Miss:
			b.Misses++
		case ReadError:
			b.Errors++
		}
		if rd.Result != ReadError {
			k := binOf(rd.Intended) - lo
			lat[k] = append(lat[k], rd.Latency())
		}
		if k := binOf(rd.OriginAt) - lo; rd.Origin && k >= 0 && k < int64(len(bins)) {
			bins[k].Origin++
		}
	}
	for i := range bins {
		b := &bins[i]
		if b.Reads > 0 {
			b.HitRatio = float64(b.Hits) / float64(b.Reads)
		}
		b.OriginPerS = float64(b.Origin) / opt.Bin.Seconds()
		if l := lat[i]; len(l) > 0 {
			slices.Sort(l)
			b.LatP50Ms = ms(nearestRank(l, 0.50))
			b.LatP99Ms = ms(nearestRank(l, 0.99))
		}
	}
	return bins
}

func (s *ReadSummary) recovery(reads []Read, opt ReadSummaryOptions) {
	s.To90S, s.Reached90 = s.timeTo(0.90)
	s.To99S, s.Reached99 = s.timeTo(0.99)
	end := time.Duration(0)
	if s.Reached99 {
		end = time.Duration(s.To99S * float64(time.Second))
		s.RecoveryOK = true
	} else {
		for i := range reads {
			end = max(end, reads[i].Intended-opt.Fault)
		}
	}
	s.RecoveryS = end.Seconds()
	for i := range reads {
		rd := &reads[i]
		if rd.Origin && rd.OriginAt >= opt.Fault && rd.OriginAt < opt.Fault+end {
			s.OriginDuringRecovery++
		}
	}
	if end > 0 {
		s.OriginPerSRecovery = float64(s.OriginDuringRecovery) / end.Seconds()
	}
	s.ExtraOrigin = float64(s.OriginDuringRecovery) - s.SteadyOriginPerS*end.Seconds()
}

// timeTo finds the end of the first bin at or after the fault with reads and
// a hit ratio of at least share of the steady state.
func (s *ReadSummary) timeTo(share float64) (float64, bool) {
	if s.SteadyReads == 0 {
		return 0, false
	}
	target := share * s.SteadyHitRatio
	for _, b := range s.Bins {
		if b.SinceFaultS < 0 || b.Reads == 0 {
			continue
		}
		if b.HitRatio >= target {
			return b.SinceFaultS + s.BinS, true
		}
	}
	return 0, false
}

func (s *ReadSummary) clientBack(reads []Read, fault time.Duration) {
	firstErr := time.Duration(-1)
	var okDone []time.Duration
	for i := range reads {
		rd := &reads[i]
		if rd.Result == ReadError && rd.Done >= fault && (firstErr < 0 || rd.Done < firstErr) {
			firstErr = rd.Done
		}
		if rd.Result != ReadError && rd.Done >= fault {
			okDone = append(okDone, rd.Done)
		}
	}
	if firstErr >= 0 {
		s.FirstErrorS = (firstErr - fault).Seconds()
	}
	// The client's outage is the longest stretch from the fault on with no
	// successful reply: errors when the client reports them, latency when
	// its retries hide them (go-redis's defaults ride out a short restart).
	slices.Sort(okDone)
	prev, gap := fault, time.Duration(-1)
	for _, d := range okDone {
		if d-prev > gap {
			gap = d - prev
			s.ClientBackS = (d - fault).Seconds()
			s.ClientGapS = gap.Seconds()
		}
		prev = d
	}
}
