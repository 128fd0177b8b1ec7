package loadgen

import "slices"

// inOrder hands on items put by index in index order, as they become
// contiguous: a ring holds the next len(ring) indexes, items further ahead
// (behind a stuck one) wait in a map. The spools use it to write ops and
// reads in Seq or claim order while they complete nearly in order, with
// memory bounded whatever the trial's length.
type inOrder[T any] struct {
	next     uint64 // index of the oldest item not yet handed on
	ring     []T
	set      []bool
	overflow map[uint64]T
}

func newInOrder[T any](size int) *inOrder[T] {
	return &inOrder[T]{ring: make([]T, size), set: make([]bool, size), overflow: map[uint64]T{}}
}

// put records item n and hands every item now contiguous to emit.
func (q *inOrder[T]) put(n uint64, v T, emit func(*T)) {
	size := uint64(len(q.ring))
	if n < q.next+size {
		q.ring[n%size], q.set[n%size] = v, true
	} else {
		q.overflow[n] = v
	}
	for q.set[q.next%size] {
		i := q.next % size
		emit(&q.ring[i])
		var zero T
		q.ring[i], q.set[i] = zero, false
		q.next++
		if len(q.overflow) > 0 { // the window moved: pull in what now fits
			last := q.next + size - 1
			if o, ok := q.overflow[last]; ok {
				q.ring[last%size], q.set[last%size] = o, true
				delete(q.overflow, last)
			}
		}
	}
}

// drain hands what is left after a gap to emit, in index order.
func (q *inOrder[T]) drain(emit func(*T)) {
	size := uint64(len(q.ring))
	type held struct {
		n uint64
		v T
	}
	var rest []held
	for i := range q.ring {
		if q.set[i] {
			// Slot i holds the index past next with that remainder.
			rest = append(rest, held{q.next + (uint64(i)+size-q.next%size)%size, q.ring[i]})
		}
	}
	for n, v := range q.overflow {
		rest = append(rest, held{n, v})
	}
	slices.SortFunc(rest, func(a, b held) int { return compareSeq(a.n, b.n) })
	for i := range rest {
		emit(&rest[i].v)
	}
}
