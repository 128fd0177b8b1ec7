package savepolicy

import "math"

// TaskMemoryInput is a task's memory limit against what a save under load
// needs.
type TaskMemoryInput struct {
	LimitBytes int64
	// Cow describes the dataset and the writes during the save; its
	// DatasetBytes is the heap the dataset occupies.
	Cow CowInput
	// OverheadBytes is what the process holds beyond the heap: binary,
	// libraries, client buffers (used_memory_rss - allocator_resident,
	// about 8-10 MB here). Zero: DefaultOverheadBytes.
	OverheadBytes int64
	Model         CowModel // zero: DefaultCowModel
}

// DefaultOverheadBytes is valkey-server's resident memory besides its heap
// (8.4 MB measured with 100k keys: used_memory_rss - allocator_resident).
const DefaultOverheadBytes = 10 << 20

// TaskMemoryNeed says whether the task survives a save at the given rate.
type TaskMemoryNeed struct {
	DatasetBytes, OverheadBytes, CowPeakBytes int64
	NeedBytes, LimitBytes                     int64 // dataset + overhead + copy-on-write peak, and the limit
	HeadroomBytes                             int64 // limit - need; negative: OOM-killed during the save
	Fits                                      bool
}

// TaskMemory compares what a save under load needs with the limit.
func TaskMemory(in TaskMemoryInput) (TaskMemoryNeed, error) {
	if in.LimitBytes <= 0 {
		return TaskMemoryNeed{}, badInput("task memory %d bytes must be > 0", in.LimitBytes)
	}
	if in.Model.PageBytes == 0 {
		in.Model = DefaultCowModel
	}
	if in.OverheadBytes == 0 {
		in.OverheadBytes = DefaultOverheadBytes
	}
	est, err := in.Model.Bound(in.Cow)
	if err != nil {
		return TaskMemoryNeed{}, err
	}
	need := in.Cow.DatasetBytes + in.OverheadBytes
	n := TaskMemoryNeed{
		DatasetBytes: in.Cow.DatasetBytes, OverheadBytes: in.OverheadBytes, CowPeakBytes: est.Bytes,
		NeedBytes: need + est.Bytes, LimitBytes: in.LimitBytes,
	}
	n.HeadroomBytes = n.LimitBytes - n.NeedBytes
	n.Fits = n.HeadroomBytes >= 0
	return n, nil
}

// MaxWritesWithin is the highest write rate during a save of in.Cow's
// duration whose need still fits the limit: 0 when even an idle save does
// not, +Inf when copying the whole dataset fits. in.Cow.WritesPerS is
// ignored.
func MaxWritesWithin(in TaskMemoryInput) (float64, error) {
	n, err := TaskMemory(in)
	if err != nil {
		return 0, err
	}
	if in.Model.PageBytes == 0 {
		in.Model = DefaultCowModel
	}
	return maxRateWithin(in, n.LimitBytes-n.DatasetBytes-n.OverheadBytes), nil
}

// maxRateWithin bisects the write rate at which the copy-on-write bound
// reaches budget (the bound grows with the rate until it saturates).
func maxRateWithin(in TaskMemoryInput, budget int64) float64 {
	at := func(rate float64) CowEstimate {
		c := in.Cow
		c.WritesPerS = rate
		est, _ := in.Model.Bound(c)
		return est
	}
	if at(0).Bytes > budget {
		return 0
	}
	lo, hi := 0.0, 1.0
	for {
		est := at(hi)
		if est.Bytes > budget {
			break
		}
		if est.Saturated || hi > 1e12 {
			return math.Inf(1)
		}
		lo, hi = hi, hi*2
	}
	for hi-lo > hi*1e-6 {
		mid := (lo + hi) / 2
		if at(mid).Bytes <= budget {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}

// SafeMaxmemory is the largest maxmemory (used_memory) that survives a save
// that copies the whole dataset: dataset x fragmentation twice (the server's
// pages and the child's copies) plus the fixed overhead within the limit.
// maxmemory does not count copy-on-write, so this is well under half the
// limit. frag is used_memory_rss / used_memory (1 or more; 0 means 1.1).
func SafeMaxmemory(limit, overhead int64, frag float64) int64 {
	if frag < 1 {
		frag = 1.1
	}
	if overhead == 0 {
		overhead = DefaultOverheadBytes
	}
	if limit <= overhead {
		return 0
	}
	return int64(float64(limit-overhead) / (2 * frag))
}
