package loadgen

import (
	"bufio"
	"bytes"
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
// It lives either in memory (Ops) or on disk, with Ops nil: in the spool
// file of a writer given one, or in a history.bin opened by OpenHistory.
// Len, Chunks and Range work for all three; code that must handle trials of
// tens of millions of ops should use them rather than Ops.
type History struct {
	Ops []Op

	spoolPath string // set when the ops are in a spool file
	binPath   string // set when the ops are in a history.bin
	binBody   int64  // where the ops start in binPath
	spoolLen  int    // the op count, when on disk
	// spoolVersion is the spool file's format (its record checksum).
	spoolVersion uint16
	err          error // the spool could not be written
}

// Len is the number of ops.
func (h *History) Len() int {
	if h.spoolPath != "" || h.binPath != "" || h.err != nil {
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
	switch {
	case h.spoolPath != "":
		return h.chunksFromSpool(n, fn)
	case h.binPath != "":
		return h.chunksFromBin(n, fn)
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

// ReadHistory reads a history written by WriteTo into memory and verifies
// its checksum. OpenHistory reads one from its file without holding it.
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
	br := bytes.NewReader(body)
	count, err := readHistoryHeader(br, int64(len(body)))
	if err != nil {
		return nil, err
	}
	h := &History{Ops: make([]Op, count)}
	d := historyDecoder{r: br}
	for i := range h.Ops {
		if err := d.next(&h.Ops[i]); err != nil {
			return nil, fmt.Errorf("read history op %d: %w", i, err)
		}
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("read history: %d bytes after the last op", br.Len())
	}
	return h, nil
}

// byteReader is what the decoder reads from: a bytes.Reader or a
// bufio.Reader.
type byteReader interface {
	io.Reader
	io.ByteReader
}

// readHistoryHeader reads the magic, the version and the op count from the
// start of a history of size bytes before its checksum.
func readHistoryHeader(r byteReader, size int64) (uint64, error) {
	var hdr [len(historyMagic) + 2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil || string(hdr[:len(historyMagic)]) != historyMagic {
		return 0, errors.New("read history: not a valkey-chaos history file (bad magic)")
	}
	if v := binary.LittleEndian.Uint16(hdr[len(historyMagic):]); v != historyVersion {
		return 0, fmt.Errorf("read history: version %d, this build reads %d", v, historyVersion)
	}
	count, err := binary.ReadUvarint(r)
	if err != nil {
		return 0, errors.New("read history: bad op count")
	}
	if count > uint64(size)/6 { // every op takes at least 6 bytes
		return 0, fmt.Errorf("read history: %d ops cannot fit in %d bytes", count, size)
	}
	return count, nil
}

// historyDecoder decodes WriteTo's ops one after another.
type historyDecoder struct {
	r            io.ByteReader
	prevSeq      uint64
	prevIntended time.Duration
}

func (d *historyDecoder) next(op *Op) error {
	var vals [4]int64
	seq, err := binary.ReadVarint(d.r)
	if err != nil {
		return errors.New("truncated")
	}
	conn, err := binary.ReadUvarint(d.r)
	if err != nil || conn > 0xffff {
		return errors.New("bad connection")
	}
	for i := 1; i < len(vals); i++ {
		if vals[i], err = binary.ReadVarint(d.r); err != nil {
			return errors.New("truncated")
		}
	}
	kind, err := d.r.ReadByte()
	if err != nil {
		return errors.New("truncated")
	}
	op.Seq = d.prevSeq + uint64(seq)
	op.Conn = uint16(conn)
	op.Intended = d.prevIntended + time.Duration(vals[1])
	op.Sent = op.Intended + time.Duration(vals[2])
	op.Done = op.Sent + time.Duration(vals[3])
	op.Outcome, op.Err = Outcome(kind>>4), ErrKind(kind&15)
	d.prevSeq, d.prevIntended = op.Seq, op.Intended
	return nil
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
