package loadgen

import (
	"bytes"
	"compress/flate"
	"testing"
	"time"
)

func TestKeyNames(t *testing.T) {
	tests := []struct{ got, want string }{
		{Key("vc:run1:", 42), "vc:run1:w:42"},
		{Key("vc:run1:", 18446744073709551615), "vc:run1:w:18446744073709551615"},
		{DatasetKey("vc:run1:", 0), "vc:run1:d:0"},
		{DatasetKey("vc:run1:", 499999), "vc:run1:d:499999"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestValueRoundTrip(t *testing.T) {
	tests := []struct {
		seq      uint64
		intended time.Duration
		size     int
		wantLen  int
	}{
		{1, 0, 100, 100},
		{123456789, 90*time.Second + 17, 100, 100},
		{1 << 63, time.Duration(1<<62 + 5), 4096, 4096},
		{7, time.Millisecond, 10, MinValueSize}, // raised to the minimum
		{7, -time.Millisecond, 41, 41},          // before Base still round-trips
	}
	for _, tt := range tests {
		v := Value(tt.seq, tt.intended, tt.size)
		if len(v) != tt.wantLen {
			t.Errorf("Value(%d, %v, %d) has %d bytes, want %d", tt.seq, tt.intended, tt.size, len(v), tt.wantLen)
		}
		seq, intended, ok := ParseValue(v)
		if !ok || seq != tt.seq || intended != tt.intended {
			t.Errorf("ParseValue(Value(%d, %v)) = (%d, %v, %v)", tt.seq, tt.intended, seq, intended, ok)
		}
	}
}

func TestParseValueDetectsCorruption(t *testing.T) {
	v := Value(99, 5*time.Second, 100)
	for i := range v {
		bad := bytes.Clone(v)
		bad[i] ^= 0x01
		if _, _, ok := ParseValue(bad); ok {
			t.Errorf("flipping bit 0 of byte %d went undetected", i)
		}
	}
	for _, foreign := range [][]byte{nil, []byte("hello"), bytes.Repeat([]byte{'a'}, 100), v[:len(v)-1], append(bytes.Clone(v), 'x')} {
		if _, _, ok := ParseValue(foreign); ok {
			t.Errorf("ParseValue accepted %q", foreign)
		}
	}
}

func TestValuesDoNotCompressAway(t *testing.T) {
	// RDB compresses values with LZF; padding that compressed to nothing
	// would make snapshots unrealistically small.
	var all bytes.Buffer
	for seq := uint64(1); seq <= 1000; seq++ {
		all.Write(Value(seq, time.Duration(seq)*time.Millisecond, 100))
	}
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(all.Bytes())
	fw.Close()
	if ratio := float64(z.Len()) / float64(all.Len()); ratio < 0.6 {
		t.Errorf("1000 values of 100 B deflate to %.0f%% of their size; want at least 60%%", ratio*100)
	}
	if bytes.Equal(Value(1, 0, 100)[32:92], Value(2, 0, 100)[32:92]) {
		t.Error("two seqs share the same padding")
	}
}

func TestParseKeyInvertsKey(t *testing.T) {
	for _, seq := range []uint64{0, 1, 42, 1 << 40} {
		if got, ok := ParseKey("vc:r.1:", Key("vc:r.1:", seq)); !ok || got != seq {
			t.Errorf("ParseKey(Key(%d)) = %d, %v", seq, got, ok)
		}
	}
	for _, k := range []string{"vc:r.1:d:5", "vc:r.2:w:5", "vc:r.1:w:", "vc:r.1:w:x1"} {
		if _, ok := ParseKey("vc:r.1:", k); ok {
			t.Errorf("ParseKey(%q) accepted a key that is not a measured write of the prefix", k)
		}
	}
}
