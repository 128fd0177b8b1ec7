package check

import (
	"fmt"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// OpStream is a trial's ops read a chunk at a time: a loadgen.History in
// memory or spooled to disk (a one-hour trial's 72M ops do not fit in the
// harness's memory), or a slice (OpSlice). Chunks calls fn with up to n
// ops at a time in order (n <= 0: the stream's default); first is the
// index of ops[0]; ops is only valid during the call. fn returns false to
// stop early. The error is the stream's own (a spool that cannot be read).
type OpStream interface {
	Len() int
	Chunks(n int, fn func(first int, ops []loadgen.Op) bool) error
}

var (
	_ OpStream = (*loadgen.History)(nil)
	_ OpStream = OpSlice(nil)
)

// OpSlice is ops in memory as an OpStream.
type OpSlice []loadgen.Op

// Len is the number of ops.
func (s OpSlice) Len() int { return len(s) }

// Chunks calls fn with s in chunks of n (n <= 0: 64Ki); it never fails.
func (s OpSlice) Chunks(n int, fn func(first int, ops []loadgen.Op) bool) error {
	if n <= 0 {
		n = 64 << 10
	}
	for first := 0; first < len(s); first += n {
		if !fn(first, s[first:min(first+n, len(s))]) {
			return nil
		}
	}
	return nil
}

// chunkSize is how many ops Classify and the written set take from a
// stream at a time: 2.6 MB of a spool's buffer. A variable so tests can
// make chunk boundaries fall inside a short history.
var chunkSize = 64 << 10

// eachChunk runs fn over ops with the read-back results of the same ops,
// checking that the stream stays inside found.
func eachChunk(ops OpStream, found []Found, fn func(ops []loadgen.Op, found []Found)) error {
	var bad error
	err := ops.Chunks(chunkSize, func(first int, chunk []loadgen.Op) bool {
		if first < 0 || first+len(chunk) > len(found) {
			bad = fmt.Errorf("the stream gave ops %d..%d of %d", first, first+len(chunk)-1, len(found))
			return false
		}
		fn(chunk, found[first:first+len(chunk)])
		return true
	})
	if err == nil {
		err = bad
	}
	return err
}

// maxSeqSpan bounds a Written set: 2^36 sequence numbers take 8 GiB of
// bits. A trial's are contiguous, so its span is its op count.
const maxSeqSpan = 1 << 36

// Written is the set of sequence numbers a History wrote, one bit per
// number from the lowest to the highest: 9 MB for 72M contiguous writes,
// where a map took tens of bytes each.
type Written struct {
	base uint64 // a multiple of 64, at most the lowest seq
	bits []uint64
}

// WrittenSeqs reads ops once and returns the set of their sequence numbers
// (for ScanUnexpected).
func WrittenSeqs(ops OpStream) (*Written, error) {
	w := &Written{}
	var bad error
	err := ops.Chunks(chunkSize, func(_ int, chunk []loadgen.Op) bool {
		for i := range chunk {
			if bad = w.add(chunk[i].Seq); bad != nil {
				return false
			}
		}
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return nil, fmt.Errorf("the set of written keys: %w", err)
	}
	return w, nil
}

func (w *Written) add(seq uint64) error {
	if w.bits == nil {
		w.base = seq &^ 63
	}
	if seq < w.base { // out of order: move the base down
		nb := seq &^ 63
		if w.base-nb+uint64(len(w.bits))*64 > maxSeqSpan {
			return fmt.Errorf("sequence numbers %d and %d are too far apart for a trial's", seq, w.base)
		}
		shift := int((w.base - nb) / 64)
		w.bits = append(make([]uint64, shift, shift+len(w.bits)), w.bits...)
		w.base = nb
	}
	if seq-w.base >= maxSeqSpan {
		return fmt.Errorf("sequence numbers %d and %d are too far apart for a trial's", w.base, seq)
	}
	i := int((seq - w.base) / 64)
	if i >= len(w.bits) {
		if i < cap(w.bits) {
			w.bits = w.bits[:i+1] // never written past len: still zero
		} else {
			w.bits = append(w.bits[:cap(w.bits)], make([]uint64, i+1-cap(w.bits))...)
		}
	}
	w.bits[i] |= 1 << (seq % 64)
	return nil
}

// Has reports whether seq was written.
func (w *Written) Has(seq uint64) bool {
	if seq < w.base {
		return false
	}
	i := (seq - w.base) / 64
	return i < uint64(len(w.bits)) && w.bits[i]&(1<<(seq%64)) != 0
}
