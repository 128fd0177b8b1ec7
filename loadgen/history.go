package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"time"
)

// Op is one write as the client saw it. Times are offsets from the trial
// base (WriterConfig.Base) on one monotonic clock.
//
// The fields are ordered so an Op packs into 40 bytes (the small fields
// share the last word); a History holds tens of millions of them.
type Op struct {
	Seq      uint64
	Intended time.Duration // when the schedule said to send it
	Sent     time.Duration // when it went out (after any connect)
	Done     time.Duration // when the reply or error came back
	Conn     uint16        // connection (worker) that issued it
	Outcome  Outcome
	Err      ErrKind
}

// Latency is Done - Intended: the latency a user would have seen, including
// any time the op waited behind a slow server (coordinated omission corrected).
func (o Op) Latency() time.Duration { return o.Done - o.Intended }

// History is every op a writer issued. After Writer.Stop it is sorted by
// Seq and the sequence numbers are contiguous.
//
// It lives either in memory (Ops) or, for a writer given a Spool file, on
// disk, with Ops nil. Len, Chunks and Range work for both; code that must
// handle trials of tens of millions of ops should use them rather than Ops.
type History struct {
	Ops []Op

	spoolPath string // set when the ops are on disk
	spoolLen  int
	err       error // the spool could not be written
}

// Len is the number of ops.
func (h *History) Len() int {
	if h.spoolPath != "" || h.err != nil {
		return h.spoolLen
	}
	return len(h.Ops)
}

// Spooled reports whether the ops are on disk, and where.
func (h *History) Spooled() (path string, ok bool) { return h.spoolPath, h.spoolPath != "" }

// Chunks calls fn with the ops in Seq order, up to n at a time (n <= 0:
// 64Ki); first is the index of ops[0]. ops is only valid during the call (a
// spooled History reuses one buffer). fn returns false to stop early. The
// error is the spool's (a write that failed, a file that is damaged).
func (h *History) Chunks(n int, fn func(first int, ops []Op) bool) error {
	if h.err != nil {
		return h.err
	}
	if n <= 0 {
		n = 64 << 10
	}
	if h.spoolPath != "" {
		return h.chunksFromSpool(n, fn)
	}
	for first := 0; first < len(h.Ops); first += n {
		if !fn(first, h.Ops[first:min(first+n, len(h.Ops))]) {
			return nil
		}
	}
	return nil
}

// Range calls fn with every op in Seq order and its index; fn returns false
// to stop early. op is only valid during the call.
func (h *History) Range(fn func(i int, op *Op) bool) error {
	return h.Chunks(0, func(first int, ops []Op) bool {
		for i := range ops {
			if !fn(first+i, &ops[i]) {
				return false
			}
		}
		return true
	})
}

// Each is Range for callers with no error to return (the summaries, a
// trial's notes): fn returns false to stop early, and a spool error is kept
// and reported by Err (and by every later Chunks, Range or WriteTo).
func (h *History) Each(fn func(op *Op) bool) {
	if err := h.Range(func(_ int, op *Op) bool { return fn(op) }); err != nil && h.err == nil {
		h.err = err
	}
}

// each is Each over every op.
func (h *History) each(fn func(op *Op)) { h.Each(func(op *Op) bool { fn(op); return true }) }

// Err reports an error met reading a spooled History (the summaries,
// which return none, leave it here).
func (h *History) Err() error { return h.err }

// Counts tallies the ops by outcome.
func (h *History) Counts() (ok, fail, unknown int) {
	h.each(func(op *Op) {
		switch op.Outcome {
		case OK:
			ok++
		case Fail:
			fail++
		case Unknown:
			unknown++
		}
	})
	return ok, fail, unknown
}

// historyMagic starts history.bin; the two bytes after it are the version.
const (
	historyMagic   = "vchist"
	historyVersion = 1
)

// WriteTo stores h in the compact binary history.bin format: the magic
// "vchist", a little-endian uint16 version (1), the op count as a uvarint,
// then per op varints of the deltas (seq and intended against the previous
// op, sent against intended, done against sent), the connection, and one
// byte outcome<<4|err; a little-endian CRC-32 (IEEE) of all preceding bytes
// closes the file. A typical op takes 8-12 bytes.
func (h *History) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(io.MultiWriter(cw, crcWriter{&cw.crc}), 64<<10)
	var buf [5 * binary.MaxVarintLen64]byte
	b := append(buf[:0], historyMagic...)
	b = binary.LittleEndian.AppendUint16(b, historyVersion)
	b = binary.AppendUvarint(b, uint64(h.Len()))
	if _, err := bw.Write(b); err != nil {
		return cw.n, fmt.Errorf("write history header: %w", err)
	}
	var prevSeq uint64
	var prevIntended time.Duration
	var werr error
	err := h.Range(func(_ int, op *Op) bool {
		b = binary.AppendVarint(buf[:0], int64(op.Seq-prevSeq))
		b = binary.AppendUvarint(b, uint64(op.Conn))
		b = binary.AppendVarint(b, int64(op.Intended-prevIntended))
		b = binary.AppendVarint(b, int64(op.Sent-op.Intended))
		b = binary.AppendVarint(b, int64(op.Done-op.Sent))
		b = append(b, byte(op.Outcome)<<4|byte(op.Err)&15)
		if _, werr = bw.Write(b); werr != nil {
			werr = fmt.Errorf("write history op %d: %w", op.Seq, werr)
			return false
		}
		prevSeq, prevIntended = op.Seq, op.Intended
		return true
	})
	if err == nil {
		err = werr
	}
	if err != nil {
		return cw.n, err
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write history: %w", err)
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], cw.crc)
	n, err := w.Write(sum[:])
	cw.n += int64(n)
	if err != nil {
		return cw.n, fmt.Errorf("write history checksum: %w", err)
	}
	return cw.n, nil
}

// ReadHistory reads a history written by WriteTo and verifies its checksum.
func ReadHistory(r io.Reader) (*History, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	if len(data) < len(historyMagic)+2+1+4 || string(data[:len(historyMagic)]) != historyMagic {
		return nil, errors.New("read history: not a valkey-chaos history file (bad magic)")
	}
	body, tail := data[:len(data)-4], data[len(data)-4:]
	if got, want := crc32.ChecksumIEEE(body), binary.LittleEndian.Uint32(tail); got != want {
		return nil, fmt.Errorf("read history: checksum mismatch (file %08x, computed %08x): the file is truncated or corrupt", want, got)
	}
	p := body[len(historyMagic):]
	if v := binary.LittleEndian.Uint16(p); v != historyVersion {
		return nil, fmt.Errorf("read history: version %d, this build reads %d", v, historyVersion)
	}
	p = p[2:]
	count, n := binary.Uvarint(p)
	if n <= 0 {
		return nil, errors.New("read history: bad op count")
	}
	p = p[n:]
	if count > uint64(len(p))/6 { // every op takes at least 6 bytes
		return nil, fmt.Errorf("read history: %d ops cannot fit in %d bytes", count, len(p))
	}
	h := &History{Ops: make([]Op, 0, count)}
	var prevSeq uint64
	var prevIntended time.Duration
	next := func() int64 {
		v, n := binary.Varint(p)
		if n <= 0 {
			err = errors.New("truncated varint")
			return 0
		}
		p = p[n:]
		return v
	}
	for i := uint64(0); i < count; i++ {
		var op Op
		op.Seq = prevSeq + uint64(next())
		conn, n := binary.Uvarint(p)
		if n <= 0 || conn > 0xffff {
			return nil, fmt.Errorf("read history op %d: bad connection", i)
		}
		p = p[n:]
		op.Conn = uint16(conn)
		op.Intended = prevIntended + time.Duration(next())
		op.Sent = op.Intended + time.Duration(next())
		op.Done = op.Sent + time.Duration(next())
		if err != nil || len(p) == 0 {
			return nil, fmt.Errorf("read history op %d: truncated", i)
		}
		op.Outcome, op.Err = Outcome(p[0]>>4), ErrKind(p[0]&15)
		p = p[1:]
		h.Ops = append(h.Ops, op)
		prevSeq, prevIntended = op.Seq, op.Intended
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("read history: %d bytes after the last op", len(p))
	}
	return h, nil
}

type countingWriter struct {
	w   io.Writer
	n   int64
	crc uint32
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// crcWriter folds everything written into a running CRC-32.
type crcWriter struct{ sum *uint32 }

func (c crcWriter) Write(b []byte) (int, error) {
	*c.sum = crc32.Update(*c.sum, crc32.IEEETable, b)
	return len(b), nil
}
