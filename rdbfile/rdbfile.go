// Package rdbfile reads the header of an RDB snapshot: which format
// version wrote it, so a run can say whether another server can load it.
package rdbfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Header is what an RDB file's first bytes say.
type Header struct {
	// Magic is "REDIS" (Redis, Valkey up to 8) or "VALKEY" (Valkey 9's
	// own format numbers, from 80 on).
	Magic string
	// Version is the RDB format version: 10 (Redis 7.0), 11 (Redis 7.2,
	// Valkey 7.2 to 8.1), 12 (Redis 7.4), 80 (Valkey 9, "VALKEY080").
	Version int
}

// ErrNotRDB marks a file that does not begin with an RDB magic.
var ErrNotRDB = errors.New("not an RDB file")

// Parse reads the header from the start of an RDB stream. Redis writes
// "REDIS" and four ASCII digits; Valkey 9 writes "VALKEY" and three.
func Parse(r io.Reader) (Header, error) {
	buf := make([]byte, 10)
	n, err := io.ReadFull(r, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return Header{}, fmt.Errorf("read rdb header: %w", err)
	}
	buf = buf[:n]
	for _, m := range []struct {
		magic  string
		digits int
	}{{"REDIS", 4}, {"VALKEY", 3}} {
		rest, ok := bytes.CutPrefix(buf, []byte(m.magic))
		if !ok {
			continue
		}
		if len(rest) < m.digits {
			return Header{}, fmt.Errorf("%w: header %q is cut short", ErrNotRDB, buf)
		}
		v, err := strconv.Atoi(string(rest[:m.digits]))
		if err != nil || v < 0 {
			return Header{}, fmt.Errorf("%w: version %q after %s is not a number", ErrNotRDB, rest[:m.digits], m.magic)
		}
		return Header{Magic: m.magic, Version: v}, nil
	}
	return Header{}, fmt.Errorf("%w: header %q", ErrNotRDB, buf)
}

// ReadFile reads the header of the RDB file at path and its size.
func ReadFile(path string) (Header, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, 0, fmt.Errorf("open rdb: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Header{}, 0, fmt.Errorf("stat rdb: %w", err)
	}
	h, err := Parse(f)
	if err != nil {
		return Header{}, st.Size(), fmt.Errorf("%s: %w", path, err)
	}
	return h, st.Size(), nil
}
