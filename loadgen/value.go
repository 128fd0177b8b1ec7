package loadgen

import (
	"encoding/hex"
	"hash/crc32"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinValueSize is the smallest value Value writes: 16 hex digits of seq, 16 of
// the intended time and 8 of a CRC-32. Smaller sizes are raised to it.
const MinValueSize = 40

// Key names the measured write with sequence number seq: prefix + "w:" + seq.
func Key(prefix string, seq uint64) string {
	return string(AppendKey(make([]byte, 0, len(prefix)+2+20), prefix, seq))
}

// AppendKey appends Key(prefix, seq) to dst, for callers that reuse a buffer.
func AppendKey(dst []byte, prefix string, seq uint64) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, "w:"...)
	return strconv.AppendUint(dst, seq, 10)
}

// DatasetKey names preloaded key i: prefix + "d:" + i. Preloaded keys never
// collide with measured writes.
func DatasetKey(prefix string, i int64) string {
	return string(AppendDatasetKey(make([]byte, 0, len(prefix)+2+20), prefix, i))
}

// AppendDatasetKey appends DatasetKey(prefix, i) to dst.
func AppendDatasetKey(dst []byte, prefix string, i int64) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, "d:"...)
	return strconv.AppendInt(dst, i, 10)
}

// padAlphabet has 64 printable characters, so each 6 random bits pick one.
const padAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

// padChars is padAlphabet as an array, so r&63 indexes it without a bounds
// check.
var padChars = [64]byte([]byte(padAlphabet))

// fillPad writes the padding derived from seq: ten characters from each
// splitmix64 output, six bits each. Whole groups of ten are unrolled; this
// runs for every op the writer sends.
func fillPad(pad []byte, seq uint64) {
	state := seq
	for len(pad) >= 10 {
		r := splitmix64(&state)
		p := pad[:10:10]
		p[0], p[1], p[2], p[3], p[4] = padChars[r&63], padChars[r>>6&63], padChars[r>>12&63], padChars[r>>18&63], padChars[r>>24&63]
		p[5], p[6], p[7], p[8], p[9] = padChars[r>>30&63], padChars[r>>36&63], padChars[r>>42&63], padChars[r>>48&63], padChars[r>>54&63]
		pad = pad[10:]
	}
	if len(pad) > 0 {
		r := splitmix64(&state)
		for i := range pad {
			pad[i] = padChars[r&63]
			r >>= 6
		}
	}
}

// Value is the value written for seq: seq and intended (nanoseconds from the
// trial base) in hex, printable padding derived from seq (so it does not
// compress away), and a CRC-32 over all of it, so a corrupted or foreign value
// is detected by ParseValue. The result is max(size, MinValueSize) bytes.
func Value(seq uint64, intended time.Duration, size int) []byte {
	return AppendValue(nil, seq, intended, size)
}

// AppendValue appends Value(seq, intended, size) to dst, for callers that
// reuse a buffer (the writer builds each op's value in place).
func AppendValue(dst []byte, seq uint64, intended time.Duration, size int) []byte {
	if size < MinValueSize {
		size = MinValueSize
	}
	start := len(dst)
	dst = slices.Grow(dst, size)[:start+size]
	b := dst[start:]
	putHex64(b[0:16], seq)
	putHex64(b[16:32], uint64(intended))
	fillPad(b[32:size-8], seq)
	putHex32(b[size-8:], crc32.ChecksumIEEE(b[:size-8]))
	return dst
}

// ParseValue recovers seq and the intended time from a value written by
// Value. ok is false for anything else, including a value whose checksum does
// not match (corruption).
func ParseValue(b []byte) (seq uint64, intended time.Duration, ok bool) {
	if len(b) < MinValueSize {
		return 0, 0, false
	}
	n := len(b)
	var sum [4]byte
	if _, err := hex.Decode(sum[:], b[n-8:]); err != nil {
		return 0, 0, false
	}
	want := uint32(sum[0])<<24 | uint32(sum[1])<<16 | uint32(sum[2])<<8 | uint32(sum[3])
	if crc32.ChecksumIEEE(b[:n-8]) != want {
		return 0, 0, false
	}
	seq, ok1 := parseHex64(b[0:16])
	in, ok2 := parseHex64(b[16:32])
	if !ok1 || !ok2 {
		return 0, 0, false
	}
	return seq, time.Duration(in), true
}

const hexDigits = "0123456789abcdef"

func putHex64(dst []byte, v uint64) {
	for i := 15; i >= 0; i-- {
		dst[i] = hexDigits[v&15]
		v >>= 4
	}
}

func putHex32(dst []byte, v uint32) {
	for i := 7; i >= 0; i-- {
		dst[i] = hexDigits[v&15]
		v >>= 4
	}
}

func parseHex64(src []byte) (uint64, bool) {
	var v uint64
	for _, c := range src {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, false
		}
		v = v<<4 | uint64(d)
	}
	return v, true
}

// splitmix64 is a tiny, fast generator for deterministic padding.
func splitmix64(state *uint64) uint64 {
	*state += 0x9e3779b97f4a7c15
	z := *state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// ParseKey is Key's inverse: the seq of a measured write's key under
// prefix, ok false for any other key.
func ParseKey(prefix, key string) (seq uint64, ok bool) {
	rest, found := strings.CutPrefix(key, prefix+"w:")
	if !found {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	return seq, err == nil
}
