package savepolicy

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Copy-on-write during a BGSAVE. The child shares every page with the
// server at the fork; each page the server then changes is copied, and the
// child's private copy counts against the task's memory until the save
// ends. Changing an existing key dirties the page of its hash-table entry
// and the pages its new value lands on (the freed slots of earlier values,
// all over the heap); inserting a key dirties one bucket of the table and
// puts the new key on fresh pages nobody shares. So overwrites copy a lot,
// inserts little, and a hot set of keys (Zipf) copies less than the same
// writes spread uniformly. Whatever the writes, no more than the dataset's
// own pages can be copied.

// WriteKind is what the writes during a save do to the keyspace.
type WriteKind string

const (
	Overwrite WriteKind = "overwrite" // change existing keys
	Insert    WriteKind = "insert"    // add new keys
)

// CowInput describes one save under load.
type CowInput struct {
	// DatasetBytes is the server's heap resident at the fork (INFO
	// allocator_resident; used_memory_rss, which adds the binary and
	// libraries, is a looser bound): the pages that can be copied at most.
	DatasetBytes int64
	// Keys is the number of keys at the fork.
	Keys int64
	// WritesPerS is the write rate during the save; BGSave its duration.
	WritesPerS float64
	BGSave     time.Duration
	Kind       WriteKind // default Overwrite
	// Dist is "uniform" (default) or "zipf" with exponent ZipfS > 1 (the
	// distribution of the keys overwritten).
	Dist  string
	ZipfS float64
}

// CowModel holds the constants of the model, fitted by FitCow.
type CowModel struct {
	PageBytes int64 // 4096
	// PagesPerWrite is how many distinct random pages one overwrite of a
	// key not yet written during the save dirties.
	PagesPerWrite float64
	// BaseBytes is what a save copies with no writes (the child's own
	// buffers, the server's housekeeping).
	BaseBytes int64
}

// DefaultCowModel is fitted on valkey 8.0 with 100-byte values by
// BenchmarkCowModel (2.1 and 2.7 pages per key in two fits, base 1.0-1.1
// MB), rounded up: an upper bound, not a mean.
var DefaultCowModel = CowModel{PageBytes: 4096, PagesPerWrite: 3, BaseBytes: 5 << 18}

// CowEstimate is the model's bound for one save.
type CowEstimate struct {
	Bytes        int64   // copy-on-write bound, at most DatasetBytes + BaseBytes
	Writes       float64 // writes during the save
	DistinctKeys float64 // keys written at least once (overwrites)
	Pages        float64 // pages dirtied
	Saturated    bool    // the bound is the dataset: every page copied
}

// Bound is the copy-on-write the save can reach at most.
func (m CowModel) Bound(in CowInput) (CowEstimate, error) {
	if err := in.validate(); err != nil {
		return CowEstimate{}, err
	}
	page := float64(m.PageBytes)
	pages := math.Ceil(float64(in.DatasetBytes) / page)
	est := CowEstimate{Writes: in.WritesPerS * in.BGSave.Seconds()}
	switch in.Kind {
	case Insert:
		// One bucket slot per insert in a table of nextPow2(keys) pointers.
		buckets := float64(uint64(1)<<bits.Len64(uint64(max(in.Keys-1, 1)))) * 8 / page
		est.Pages = touched(buckets, est.Writes)
	default:
		est.DistinctKeys = DistinctKeys(in.Keys, est.Writes, in.Dist, in.ZipfS)
		est.Pages = touched(pages, m.PagesPerWrite*est.DistinctKeys)
	}
	bytes := float64(m.BaseBytes) + est.Pages*page
	if limit := float64(in.DatasetBytes + m.BaseBytes); bytes >= limit {
		bytes, est.Saturated = limit, true
	}
	est.Bytes = int64(bytes)
	return est, nil
}

// touched is the expected number of distinct pages among n hit by t
// uniformly random touches: n(1 - e^(-t/n)).
func touched(n, t float64) float64 {
	if n <= 0 || t <= 0 {
		return 0
	}
	return -n * math.Expm1(-t/n)
}

func (in *CowInput) validate() error {
	switch {
	case in.DatasetBytes <= 0 || in.Keys <= 0:
		return badInput("copy-on-write model: dataset %d bytes, %d keys: both must be > 0", in.DatasetBytes, in.Keys)
	case in.WritesPerS < 0 || math.IsNaN(in.WritesPerS) || math.IsInf(in.WritesPerS, 0) || in.BGSave < 0:
		return badInput("copy-on-write model: write rate %g/s and save duration %v must be finite and >= 0", in.WritesPerS, in.BGSave)
	case in.Kind != "" && in.Kind != Overwrite && in.Kind != Insert:
		return badInput("copy-on-write model: write kind %q: use overwrite or insert", in.Kind)
	case in.Dist != "" && in.Dist != "uniform" && in.Dist != "zipf":
		return badInput("copy-on-write model: key distribution %q: use uniform or zipf", in.Dist)
	case in.Dist == "zipf" && in.ZipfS != 0 && !(in.ZipfS > 1):
		return badInput("copy-on-write model: zipf exponent %g must be > 1", in.ZipfS)
	}
	return nil
}

// DistinctKeys is the expected number of different keys among writes draws
// over keys keys: uniform, or Zipf with P(rank k) ∝ (1+k)^-s (math/rand's
// Zipf with v = 1; s 0 means 1.1), as loadgen's overwriter draws them.
func DistinctKeys(keys int64, writes float64, dist string, s float64) float64 {
	if keys <= 0 || writes <= 0 {
		return 0
	}
	n := float64(keys)
	if dist != "zipf" {
		return -n * math.Expm1(writes*math.Log1p(-1/n)) // n(1 - (1-1/n)^writes)
	}
	if s == 0 {
		s = 1.1
	}
	// Exact over the head ranks; beyond them the terms vary slowly, so the
	// sum is the integral over [head+0.5, keys+0.5] (midpoint rule), taken
	// in log space: O(1) work for any number of keys.
	head := min(keys, 2000)
	norm := 0.0
	for k := int64(0); k < head; k++ {
		norm += math.Pow(1+float64(k), -s)
	}
	a, b := float64(head)+0.5, float64(keys)+0.5
	if keys > head {
		norm += (math.Pow(a, 1-s) - math.Pow(b, 1-s)) / (s - 1)
	}
	hit := func(x float64) float64 { // P(rank x-1 drawn at least once)
		return -math.Expm1(writes * math.Log1p(-math.Pow(x, -s)/norm))
	}
	var distinct float64
	for k := int64(0); k < head; k++ {
		distinct += hit(1 + float64(k))
	}
	if keys > head {
		const steps = 4000
		lu, hu := math.Log(a), math.Log(b)
		du := (hu - lu) / steps
		for i := 0; i <= steps; i++ {
			x := math.Exp(lu + float64(i)*du)
			w := du
			if i == 0 || i == steps {
				w /= 2
			}
			distinct += hit(x) * x * w
		}
	}
	return distinct
}

// CowRun is one measured save: its input and rdb_last_cow_size.
type CowRun struct {
	In       CowInput
	Measured int64
}

// FitCow fits BaseBytes (the largest measured with no writes) and
// PagesPerWrite (the largest any unsaturated overwrite run needs), so the
// model bounds every run it was fitted on.
func FitCow(runs []CowRun, pageBytes int64) (CowModel, error) {
	if pageBytes <= 0 {
		pageBytes = 4096
	}
	m := CowModel{PageBytes: pageBytes}
	for _, r := range runs {
		if r.In.WritesPerS*r.In.BGSave.Seconds() == 0 {
			m.BaseBytes = max(m.BaseBytes, r.Measured)
		}
	}
	page := float64(pageBytes)
	for _, r := range runs {
		w := r.In.WritesPerS * r.In.BGSave.Seconds()
		if w == 0 || (r.In.Kind != "" && r.In.Kind != Overwrite) {
			continue
		}
		if err := r.In.validate(); err != nil {
			return m, err
		}
		pages := math.Ceil(float64(r.In.DatasetBytes) / page)
		frac := float64(r.Measured-m.BaseBytes) / (pages * page)
		if frac <= 0 || frac >= 0.95 {
			continue // no information about the slope
		}
		u := DistinctKeys(r.In.Keys, w, r.In.Dist, r.In.ZipfS)
		m.PagesPerWrite = max(m.PagesPerWrite, -pages/u*math.Log1p(-frac))
	}
	if m.PagesPerWrite == 0 {
		return m, errors.New("fit copy-on-write: no overwrite run below saturation to fit pages per write on")
	}
	return m, nil
}

// String shows the constants.
func (m CowModel) String() string {
	return fmt.Sprintf("%.2f pages per overwritten key, %s base", m.PagesPerWrite, FormatBytes(float64(m.BaseBytes)))
}
