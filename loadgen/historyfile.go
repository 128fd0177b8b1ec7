package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// OpenHistory opens a history.bin (WriteTo) as a History that decodes its
// ops from the file on each iteration, as a spooled History reads its
// spool: a long trial is re-judged without its ops in memory (ReadHistory
// holds them, 40 bytes each). The whole file is checked first: magic,
// version, checksum and every op.
func OpenHistory(path string) (*History, error) {
	f, fileSize, err := openSized(path, "open history")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fileSize - 4 // the checksum closes the file
	var magic [len(historyMagic)]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || size < int64(len(historyMagic)+2+1) || string(magic[:]) != historyMagic {
		return nil, errors.New("read history: not a valkey-chaos history file (bad magic)")
	}
	crc := crc32.NewIEEE()
	body := &countingReader{r: bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(f, 0, size), crc), 256<<10)}
	count, bodyAt, derr := scanHistory(body, size)
	if _, err := io.Copy(io.Discard, body); err != nil { // the rest, for the checksum
		return nil, fmt.Errorf("read history: %w", err)
	}
	var tail [4]byte
	if _, err := f.ReadAt(tail[:], size); err != nil {
		return nil, fmt.Errorf("read history checksum: %w", err)
	}
	if got, want := crc.Sum32(), binary.LittleEndian.Uint32(tail[:]); got != want {
		return nil, fmt.Errorf("read history: checksum mismatch (file %08x, computed %08x): the file is truncated or corrupt", want, got)
	}
	if derr != nil {
		return nil, derr
	}
	return &History{binPath: path, binBody: bodyAt, spoolLen: int(count)}, nil
}

// openSized opens path and says how long it is; errors start with what.
func openSized(path, what string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %w", what, err)
	}
	return f, st.Size(), nil
}

// scanHistory reads the header and decodes every op, returning the op count
// and where the ops start.
func scanHistory(r *countingReader, size int64) (count uint64, bodyAt int64, err error) {
	if count, err = readHistoryHeader(r, size); err != nil {
		return 0, 0, err
	}
	bodyAt = r.n
	d := historyDecoder{r: r}
	var op Op
	for i := uint64(0); i < count; i++ {
		if err := d.next(&op); err != nil {
			return 0, 0, fmt.Errorf("read history op %d: %w", i, err)
		}
	}
	if r.n != size {
		return 0, 0, fmt.Errorf("read history: %d bytes after the last op", size-r.n)
	}
	return count, bodyAt, nil
}

// chunksFromBin decodes the history.bin n ops at a time into one reused
// buffer.
func (h *History) chunksFromBin(n int, fn func(first int, ops []Op) bool) error {
	f, err := os.Open(h.binPath)
	if err != nil {
		return fmt.Errorf("read history: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(h.binBody, io.SeekStart); err != nil {
		return fmt.Errorf("read history %s: %w", h.binPath, err)
	}
	d := historyDecoder{r: bufio.NewReaderSize(f, 256<<10)}
	buf := make([]Op, min(n, max(h.spoolLen, 1)))
	for first := 0; first < h.spoolLen; first += len(buf) {
		k := min(len(buf), h.spoolLen-first)
		for i := 0; i < k; i++ {
			if err := d.next(&buf[i]); err != nil {
				return fmt.Errorf("read history %s op %d: %w", h.binPath, first+i, err)
			}
		}
		if !fn(first, buf[:k]) {
			return nil
		}
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}
