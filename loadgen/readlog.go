package loadgen

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// ReadLog is every read a Reader made: in memory (Reads), or in the spool
// file of a reader given ReaderConfig.Spool, in the order the schedule
// claimed them (their intended times in order), so its summary holds one
// bin's latencies at a time, not every read's.
type ReadLog struct {
	Reads []Read // in memory; nil when spooled

	path string // the spool file, when spooled
	n    int    // the reads in it
	err  error  // the spool could not be written
}

// Len is the number of reads.
func (l *ReadLog) Len() int {
	if l.path != "" || l.err != nil {
		return l.n
	}
	return len(l.Reads)
}

// Spooled reports whether the reads are on disk, and where.
func (l *ReadLog) Spooled() (path string, ok bool) { return l.path, l.path != "" }

// Chunks calls fn with the reads, up to n at a time (n <= 0: 64Ki); reads
// is only valid during the call. fn returns false to stop early. The error
// is the spool's.
func (l *ReadLog) Chunks(n int, fn func(reads []Read) bool) error {
	if l.err != nil {
		return l.err
	}
	if n <= 0 {
		n = 64 << 10
	}
	if l.path == "" {
		for first := 0; first < len(l.Reads); first += n {
			if !fn(l.Reads[first:min(first+n, len(l.Reads))]) {
				return nil
			}
		}
		return nil
	}
	f, err := os.Open(l.path)
	if err != nil {
		return fmt.Errorf("read the reader's spool: %w", err)
	}
	defer f.Close()
	n = min(n, max(l.n, 1))
	buf := make([]Read, n)
	raw := make([]byte, n*readRecord)
	for first := 0; first < l.n; first += n {
		k := min(n, l.n-first)
		if _, err := io.ReadFull(f, raw[:k*readRecord]); err != nil {
			return fmt.Errorf("read the reader's spool %s, reads %d..%d: %w", l.path, first, first+k-1, err)
		}
		for i := range k {
			decodeRead(raw[i*readRecord:], &buf[i])
		}
		if !fn(buf[:k]) {
			return nil
		}
	}
	return nil
}

// Remove deletes the spool file, once the reads are summarised.
func (l *ReadLog) Remove() error {
	if l.path == "" {
		return nil
	}
	if err := os.Remove(l.path); err != nil {
		return fmt.Errorf("remove the reader's spool: %w", err)
	}
	return nil
}

// A read spool record: key, intended, sent, done, origin_at, fill_done
// (little-endian, nanoseconds from the trial base), then result, err,
// origin and fill, one byte each. Reads are a summary's input, never
// evidence (the writer's History is), so the file has no checksum and is
// not synced: it lives as long as the trial.
const (
	readRecord   = 6*8 + 4
	readRing     = 1 << 16 // reads held to put the file in claim order (3.7 MB)
	readNotTaken = 0xff    // a claimed read the stop cancelled before it was sent
)

func encodeRead(rec []byte, rd *Read) {
	le := binary.LittleEndian
	le.PutUint64(rec[0:], rd.Key)
	le.PutUint64(rec[8:], uint64(rd.Intended))
	le.PutUint64(rec[16:], uint64(rd.Sent))
	le.PutUint64(rec[24:], uint64(rd.Done))
	le.PutUint64(rec[32:], uint64(rd.OriginAt))
	le.PutUint64(rec[40:], uint64(rd.FillDone))
	rec[48], rec[49], rec[51] = byte(rd.Result), byte(rd.Err), byte(rd.Fill)
	rec[50] = 0
	if rd.Origin {
		rec[50] = 1
	}
}

func decodeRead(rec []byte, rd *Read) {
	le := binary.LittleEndian
	*rd = Read{
		Key:      le.Uint64(rec[0:]),
		Intended: time.Duration(le.Uint64(rec[8:])),
		Sent:     time.Duration(le.Uint64(rec[16:])),
		Done:     time.Duration(le.Uint64(rec[24:])),
		OriginAt: time.Duration(le.Uint64(rec[32:])),
		FillDone: time.Duration(le.Uint64(rec[40:])),
		Result:   ReadResult(rec[48]),
		Err:      ErrKind(rec[49]),
		Origin:   rec[50] == 1,
		Fill:     Fill(rec[51]),
	}
}

// readSpool writes reads to a file in claim order as they complete: each
// goes into a ring slot by its claim index, and the contiguous completed
// prefix is written out, so memory stays bounded whatever the trial's
// length (a read far ahead of a stuck one waits in a map).
type readSpool struct {
	mu      sync.Mutex
	f       *os.File
	bw      *bufio.Writer
	path    string
	order   *inOrder[Read] // by claim index
	written int
	err     error
	rec     [readRecord]byte
}

func createReadSpool(path string) (*readSpool, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create the reader's spool: %w", err)
	}
	return &readSpool{f: f, bw: bufio.NewWriterSize(f, 256<<10), path: path, order: newInOrder[Read](readRing)}, nil
}

// put records read n (its claim index); a read with Result readNotTaken
// only moves the line on.
func (s *readSpool) put(n uint64, rd Read) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.put(n, rd, s.write)
}

func (s *readSpool) write(rd *Read) {
	if s.err != nil || rd.Result == readNotTaken {
		return
	}
	encodeRead(s.rec[:], rd)
	if _, err := s.bw.Write(s.rec[:]); err != nil {
		s.err = fmt.Errorf("write the reader's spool %s: %w", s.path, err)
	}
	s.written++
}

// close writes what is left after a gap (in claim order) and closes the
// file, returning the ReadLog that reads it.
func (s *readSpool) close() *ReadLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order.drain(s.write)
	if err := s.bw.Flush(); err != nil && s.err == nil {
		s.err = fmt.Errorf("flush the reader's spool %s: %w", s.path, err)
	}
	if err := s.f.Close(); err != nil && s.err == nil {
		s.err = fmt.Errorf("close the reader's spool %s: %w", s.path, err)
	}
	return &ReadLog{path: s.path, n: s.written, err: s.err}
}
