package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync"
	"time"
)

// The spool file: a header of spoolMagic, a little-endian uint16 version
// and the uint64 first sequence number, then one fixed-size record per op in
// Seq order: seq, intended, sent, done (little-endian int64 nanoseconds from
// the trial base), conn (uint16), outcome<<4|err (one byte), one zero byte,
// and a CRC-32C (Castagnoli; version 1 used IEEE) of the record's first 36
// bytes. Fixed-size records make op i's place in the file (header +
// i*spoolRecord), so a reader can start anywhere and a torn tail is
// detected by its length and checksum.
const (
	spoolMagic = "vcspool"
	// Version 2 checksums records with CRC-32C, which amd64 and arm64
	// compute in hardware at any length; IEEE's hardware path starts at 64
	// bytes, so version 1's checksum was most of a pass's CPU over a 36-byte
	// record (BenchmarkSpoolPass: 48-56 against 31-35 ns per op read, side
	// by side on one machine). Version 1 is still read.
	spoolVersion = 2
	spoolHeader  = len(spoolMagic) + 2 + 8
	spoolRecord  = 40
	// spoolRing is how many ops past the oldest incomplete one are held
	// in order in memory (2.6 MB); ops completing further ahead (a stuck op
	// holding the line during an outage) wait in a map.
	spoolRing = 1 << 16
)

// spool writes ops to a file in Seq order as they complete. Ops complete
// nearly in order (a connection holds one batch at a time), so each is put
// in a ring slot by its index and the contiguous completed prefix is
// encoded and buffered for the file; memory stays bounded whatever the
// trial's length.
type spool struct {
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	path    string
	first   uint64       // StartSeq
	order   *inOrder[Op] // by index (seq - first)
	written int
	err     error
	rec     [spoolRecord]byte // scratch: a local array would escape through bufio
}

func createSpool(path string, first uint64) (*spool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create history spool: %w", err)
	}
	s := &spool{f: f, bw: bufio.NewWriterSize(f, 256<<10), path: path, first: first, order: newInOrder[Op](spoolRing)}
	var hdr [spoolHeader]byte
	copy(hdr[:], spoolMagic)
	binary.LittleEndian.PutUint16(hdr[len(spoolMagic):], spoolVersion)
	binary.LittleEndian.PutUint64(hdr[len(spoolMagic)+2:], first)
	if _, err := s.bw.Write(hdr[:]); err != nil {
		f.Close()
		return nil, fmt.Errorf("write history spool header: %w", err)
	}
	return s, nil
}

// put records the op with schedule index n (seq - first).
func (s *spool) put(n uint64, op Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.put(n, op, s.write)
}

func (s *spool) write(op *Op) {
	if s.err != nil {
		return
	}
	encodeRecord(s.rec[:], op)
	if _, err := s.bw.Write(s.rec[:]); err != nil {
		s.err = fmt.Errorf("write history spool %s: %w", s.path, err)
	}
	s.written++
}

// close writes whatever is left (ops after a gap, should Stop leave one, in
// Seq order), syncs and closes the file.
func (s *spool) close() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.drain(s.write)
	if err := s.bw.Flush(); err != nil && s.err == nil {
		s.err = fmt.Errorf("flush history spool %s: %w", s.path, err)
	}
	if err := s.f.Sync(); err != nil && s.err == nil {
		s.err = fmt.Errorf("sync history spool %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil && s.err == nil {
		s.err = fmt.Errorf("close history spool %s: %w", s.path, err)
	}
	return s.written, s.err
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func encodeRecord(rec []byte, op *Op) {
	le := binary.LittleEndian
	le.PutUint64(rec[0:], op.Seq)
	le.PutUint64(rec[8:], uint64(op.Intended))
	le.PutUint64(rec[16:], uint64(op.Sent))
	le.PutUint64(rec[24:], uint64(op.Done))
	le.PutUint16(rec[32:], op.Conn)
	rec[34] = byte(op.Outcome)<<4 | byte(op.Err)&15
	rec[35] = 0
	le.PutUint32(rec[36:], crc32.Checksum(rec[:36], castagnoli))
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recordCRC is the record checksum of spool version v; nil for a version
// this build does not read.
func recordCRC(v uint16) *crc32.Table {
	switch v {
	case 1:
		return crc32.IEEETable
	case spoolVersion:
		return castagnoli
	}
	return nil
}

func decodeRecord(rec []byte, op *Op, crc *crc32.Table) error {
	le := binary.LittleEndian
	if crc32.Checksum(rec[:36], crc) != le.Uint32(rec[36:]) {
		return errors.New("record checksum mismatch")
	}
	*op = Op{
		Seq:      le.Uint64(rec[0:]),
		Intended: time.Duration(le.Uint64(rec[8:])),
		Sent:     time.Duration(le.Uint64(rec[16:])),
		Done:     time.Duration(le.Uint64(rec[24:])),
		Conn:     le.Uint16(rec[32:]),
		Outcome:  Outcome(rec[34] >> 4),
		Err:      ErrKind(rec[34] & 15),
	}
	return nil
}

// SpoolFile writes a spool file as a writer given WriterConfig.Spool does,
// for ops recorded elsewhere (a test or benchmark that needs a long history
// on disk without a server).
type SpoolFile struct{ s *spool }

// CreateSpool creates the new spool file path for ops numbered from first.
func CreateSpool(path string, first uint64) (*SpoolFile, error) {
	s, err := createSpool(path, first)
	if err != nil {
		return nil, err
	}
	return &SpoolFile{s: s}, nil
}

// Put records op, in any order; its Seq is at least first and its Outcome
// is set (OK, Fail or Unknown).
func (f *SpoolFile) Put(op Op) { f.s.put(op.Seq-f.s.first, op) }

// Close writes what is left, closes the file and returns the History that
// reads it.
func (f *SpoolFile) Close() (*History, error) {
	n, err := f.s.close()
	if err != nil {
		return nil, err
	}
	return &History{spoolPath: f.s.path, spoolLen: n, spoolVersion: spoolVersion}, nil
}

// OpenSpooledHistory opens a spool file a writer left (WriterConfig.Spool)
// as a History that reads its ops from the file on each iteration.
func OpenSpooledHistory(path string) (*History, error) {
	f, size, err := openSized(path, "open history spool")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var hdr [spoolHeader]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil || string(hdr[:len(spoolMagic)]) != spoolMagic {
		return nil, fmt.Errorf("open history spool %s: not a valkey-chaos spool file (bad header)", path)
	}
	v := binary.LittleEndian.Uint16(hdr[len(spoolMagic):])
	if recordCRC(v) == nil {
		return nil, fmt.Errorf("open history spool %s: version %d, this build reads 1 to %d", path, v, spoolVersion)
	}
	body := size - int64(spoolHeader)
	if body%spoolRecord != 0 {
		return nil, fmt.Errorf("open history spool %s: %d bytes after the header is not a whole number of %d-byte records: the file is truncated", path, body, spoolRecord)
	}
	return &History{spoolPath: path, spoolLen: int(body / spoolRecord), spoolVersion: v}, nil
}

// chunksFromSpool reads the spool file n ops at a time into one reused
// buffer: each chunk's records in one read, then decoded.
func (h *History) chunksFromSpool(n int, fn func(first int, ops []Op) bool) error {
	f, err := os.Open(h.spoolPath)
	if err != nil {
		return fmt.Errorf("read history spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(int64(spoolHeader), io.SeekStart); err != nil {
		return fmt.Errorf("read history spool %s header: %w", h.spoolPath, err)
	}
	crc := recordCRC(h.spoolVersion)
	if crc == nil {
		return fmt.Errorf("read history spool %s: version %d unknown to this build", h.spoolPath, h.spoolVersion)
	}
	n = min(n, max(h.spoolLen, 1))
	buf := make([]Op, n)
	raw := make([]byte, n*spoolRecord)
	for first := 0; first < h.spoolLen; first += n {
		k := min(n, h.spoolLen-first)
		if _, err := io.ReadFull(f, raw[:k*spoolRecord]); err != nil {
			return fmt.Errorf("read history spool %s ops %d..%d: %w", h.spoolPath, first, first+k-1, err)
		}
		for i := 0; i < k; i++ {
			if err := decodeRecord(raw[i*spoolRecord:(i+1)*spoolRecord], &buf[i], crc); err != nil {
				return fmt.Errorf("read history spool %s op %d: %w", h.spoolPath, first+i, err)
			}
		}
		if !fn(first, buf[:k]) {
			return nil
		}
	}
	return nil
}
