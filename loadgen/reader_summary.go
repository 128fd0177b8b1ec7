package loadgen

import (
	"slices"
	"time"

	"github.com/trigpointing/valkey-chaos/result"
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

// ReadBin and ReadSummary are result.json's reader block.
type (
	ReadBin     = result.ReadBin
	ReadSummary = result.ReadSummary
)

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
	countTotals(&s, reads)
	steadyState(&s, reads, opt)
	s.Bins = readBins(reads, opt)
	recovery(&s, reads, opt)
	clientBack(&s, reads, opt.Fault)
	return s
}

func countTotals(s *ReadSummary, reads []Read) {
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

func steadyState(s *ReadSummary, reads []Read, opt ReadSummaryOptions) {
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

func recovery(s *ReadSummary, reads []Read, opt ReadSummaryOptions) {
	s.To90S, s.Reached90 = timeTo(s, 0.90)
	s.To99S, s.Reached99 = timeTo(s, 0.99)
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
func timeTo(s *ReadSummary, share float64) (float64, bool) {
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

func clientBack(s *ReadSummary, reads []Read, fault time.Duration) {
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
