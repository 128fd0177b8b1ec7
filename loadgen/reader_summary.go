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
	s, _ := SummarizeReadLog(&ReadLog{Reads: reads}, opt) // reads in memory: no error
	return s
}

// SummarizeReadLog computes the ReadSummary of a ReadLog around opt.Fault in
// three passes over it: totals and extent, then the steady state and the
// bins, then recovery and the client's view. Reads in intended order (a
// spooled log) have one bin's latencies held at a time; in any other order
// every bin's are (a fourth pass). The error is the spool's.
func SummarizeReadLog(l *ReadLog, opt ReadSummaryOptions) (ReadSummary, error) {
	if opt.Bin <= 0 {
		opt.Bin = defaultReadBin
	}
	if opt.Steady <= 0 {
		opt.Steady = defaultReadSteady
	}
	s := ReadSummary{ErrorsByKind: map[string]int{}, BinS: opt.Bin.Seconds(), FirstErrorS: -1, ClientGapS: -1, ClientBackS: -1}
	if l.Len() == 0 {
		return s, l.err
	}
	each := func(fn func(rd *Read)) error {
		return l.Chunks(0, func(reads []Read) bool {
			for i := range reads {
				fn(&reads[i])
			}
			return true
		})
	}
	var ext extent
	if err := each(func(rd *Read) { countRead(&s, rd); ext.add(rd) }); err != nil {
		return s, err
	}
	from := max(opt.Fault-opt.Steady, ext.first)
	s.SteadyFromS = (from - opt.Fault).Seconds()
	var st steadyCounts
	b := newBinning(ext, opt)
	inOrder := true
	if err := each(func(rd *Read) { st.add(rd, from, opt.Fault); inOrder = b.add(rd, inOrder) }); err != nil {
		return s, err
	}
	if !inOrder { // a bin closed early: again, holding every bin's latencies
		b = newBinning(ext, opt)
		b.all = make([][]time.Duration, len(b.bins))
		if err := each(func(rd *Read) { b.add(rd, false) }); err != nil {
			return s, err
		}
	}
	s.Bins = b.finish()
	st.record(&s, from, opt.Fault)
	recoveryEnd(&s, ext, opt)
	var cv clientView
	if err := each(func(rd *Read) { cv.add(rd, &s, opt) }); err != nil {
		return s, err
	}
	if end := time.Duration(s.RecoveryS * float64(time.Second)); end > 0 {
		s.OriginPerSRecovery = float64(s.OriginDuringRecovery) / end.Seconds()
	}
	s.ExtraOrigin = float64(s.OriginDuringRecovery) - s.SteadyOriginPerS*s.RecoveryS
	cv.record(&s, opt.Fault)
	return s, nil
}

func countRead(s *ReadSummary, rd *Read) {
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

// extent is the reads' first and last intended times.
type extent struct {
	first, last time.Duration
	seen        bool
}

func (e *extent) add(rd *Read) {
	if !e.seen {
		e.first, e.last, e.seen = rd.Intended, rd.Intended, true
		return
	}
	e.first, e.last = min(e.first, rd.Intended), max(e.last, rd.Intended)
}

// steadyCounts are the reads and origin fetches of the steady window.
type steadyCounts struct{ reads, hits, origin int }

func (c *steadyCounts) add(rd *Read, from, fault time.Duration) {
	if rd.Intended >= from && rd.Intended < fault {
		c.reads++
		if rd.Result == Hit {
			c.hits++
		}
	}
	if rd.Origin && rd.OriginAt >= from && rd.OriginAt < fault {
		c.origin++
	}
}

func (c *steadyCounts) record(s *ReadSummary, from, fault time.Duration) {
	s.SteadyReads = c.reads
	if c.reads > 0 {
		s.SteadyHitRatio = float64(c.hits) / float64(c.reads)
	}
	if span := fault - from; span > 0 {
		s.SteadyOriginPerS = float64(c.origin) / span.Seconds()
	}
	s.To90S, s.Reached90 = timeTo(s, 0.90)
	s.To99S, s.Reached99 = timeTo(s, 0.99)
}

// binning fills the bins from the first read's bin to the last one's; the
// latencies of the open bin only (cur), or of every bin (all).
type binning struct {
	opt  ReadSummaryOptions
	lo   int64
	bins []ReadBin
	cur  int64
	lat  []time.Duration
	all  [][]time.Duration
}

func (b *binning) binOf(t time.Duration) int64 {
	d := t - b.opt.Fault
	k := int64(d / b.opt.Bin)
	if d < 0 && d%b.opt.Bin != 0 {
		k-- // floor, not truncation
	}
	return k
}

func newBinning(ext extent, opt ReadSummaryOptions) *binning {
	b := &binning{opt: opt, cur: -1}
	b.lo = b.binOf(ext.first)
	b.bins = make([]ReadBin, b.binOf(ext.last)-b.lo+1)
	for i := range b.bins {
		b.bins[i].SinceFaultS = (time.Duration(b.lo+int64(i)) * opt.Bin).Seconds()
	}
	return b
}

// add counts rd into its bin; with inOrder it holds only the open bin's
// latencies and returns false (having counted nothing) when rd's bin was
// already closed.
func (b *binning) add(rd *Read, inOrder bool) bool {
	k := b.binOf(rd.Intended) - b.lo
	if inOrder && b.all == nil {
		if k < b.cur {
			return false
		}
		if k > b.cur {
			b.close()
			b.cur = k
		}
	}
	if !inOrder && b.all == nil {
		return false // abandoned: the fourth pass counts everything
	}
	bin := &b.bins[k]
	bin.Reads++
	switch rd.Result {
	case Hit:
		bin.Hits++
	case Miss:
		bin.Misses++
	case ReadError:
		bin.Errors++
	}
	if rd.Result != ReadError {
		if b.all != nil {
			b.all[k] = append(b.all[k], rd.Latency())
		} else {
			b.lat = append(b.lat, rd.Latency())
		}
	}
	if o := b.binOf(rd.OriginAt) - b.lo; rd.Origin && o >= 0 && o < int64(len(b.bins)) {
		b.bins[o].Origin++
	}
	return true
}

// close sets the open bin's latency percentiles.
func (b *binning) close() {
	if b.cur >= 0 {
		setReadLatency(&b.bins[b.cur], b.lat)
	}
	b.lat = b.lat[:0]
}

func (b *binning) finish() []ReadBin {
	if b.all != nil {
		for k, l := range b.all {
			setReadLatency(&b.bins[k], l)
		}
	} else {
		b.close()
	}
	for i := range b.bins {
		bin := &b.bins[i]
		if bin.Reads > 0 {
			bin.HitRatio = float64(bin.Hits) / float64(bin.Reads)
		}
		bin.OriginPerS = float64(bin.Origin) / b.opt.Bin.Seconds()
	}
	return b.bins
}

func setReadLatency(bin *ReadBin, l []time.Duration) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	bin.LatP50Ms = ms(nearestRank(l, 0.50))
	bin.LatP99Ms = ms(nearestRank(l, 0.99))
}

// recoveryEnd is when the hit ratio was back (99% of steady), else the
// last read's intended time, from the fault.
func recoveryEnd(s *ReadSummary, ext extent, opt ReadSummaryOptions) {
	end := time.Duration(0)
	if s.Reached99 {
		end = time.Duration(s.To99S * float64(time.Second))
		s.RecoveryOK = true
	} else {
		end = max(end, ext.last-opt.Fault)
	}
	s.RecoveryS = end.Seconds()
}

// clientView is what the application saw from the fault on: origin fetches
// during recovery, its first error, and the successful replies' instants
// (only those after the fault are held).
type clientView struct {
	firstErr time.Duration
	seenErr  bool
	okDone   []time.Duration
}

func (c *clientView) add(rd *Read, s *ReadSummary, opt ReadSummaryOptions) {
	end := time.Duration(s.RecoveryS * float64(time.Second))
	if rd.Origin && rd.OriginAt >= opt.Fault && rd.OriginAt < opt.Fault+end {
		s.OriginDuringRecovery++
	}
	if rd.Result == ReadError && rd.Done >= opt.Fault && (!c.seenErr || rd.Done < c.firstErr) {
		c.firstErr, c.seenErr = rd.Done, true
	}
	if rd.Result != ReadError && rd.Done >= opt.Fault {
		c.okDone = append(c.okDone, rd.Done)
	}
}

func (c *clientView) record(s *ReadSummary, fault time.Duration) {
	if c.seenErr {
		s.FirstErrorS = (c.firstErr - fault).Seconds()
	}
	// The client's outage is the longest stretch from the fault on with no
	// successful reply: errors when the client reports them, latency when
	// its retries hide them (go-redis's defaults ride out a short restart).
	slices.Sort(c.okDone)
	prev, gap := fault, time.Duration(-1)
	for _, d := range c.okDone {
		if d-prev > gap {
			gap = d - prev
			s.ClientBackS = (d - fault).Seconds()
			s.ClientGapS = gap.Seconds()
		}
		prev = d
	}
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
