package check_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/check"
)

func randomFound(n int, rng *rand.Rand) []check.Found {
	found := make([]check.Found, n)
	for i := range found {
		switch rng.IntN(3) {
		case 1:
			found[i] = check.Found{Present: true, Match: true}
		case 2:
			found[i] = check.Found{Present: true}
		}
	}
	return found
}

func TestFoundRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 3, 4, 5, 1000, 100_003} {
		want := randomFound(n, rng)
		var buf bytes.Buffer
		if err := check.WriteFound(&buf, want); err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if size, max := buf.Len(), 7+2+8+(n+3)/4+4; size != max {
			t.Errorf("n=%d: %d bytes, want %d (2 bits a write)", n, size, max)
		}
		got, err := check.ReadFound(&buf)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("n=%d: round trip differs", n)
		}
	}
}

func TestFoundRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := check.WriteFound(&buf, randomFound(1001, rand.New(rand.NewPCG(3, 4)))); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		return b
	}
	// resign sets a byte and recomputes the checksum: damage the CRC cannot see.
	resign := func(i int, v byte) []byte {
		b := bytes.Clone(good)
		b[i] = v
		body := b[:len(b)-4]
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.ChecksumIEEE(body))
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"another version", resign(7, 2), "version 2, this build reads 1"},
		{"a count the file cannot hold", resign(10, 0x10), "writes need"},
		{"a code no writer produces", resign(17, 0xff), "write 0 has code 3"},
		{"empty", nil, "bad magic"},
		{"another file", []byte("vchist\x01\x00garbage-garbage"), "bad magic"},
		{"truncated", good[:len(good)-7], "checksum mismatch"},
		{"a flipped bit in the body", flip(40), "checksum mismatch"},
		{"a flipped bit in the count", flip(10), "checksum mismatch"},
		{"a flipped bit in the checksum", flip(len(good) - 1), "checksum mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := check.ReadFound(bytes.NewReader(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWriteFoundRejectsMatchWithoutPresent(t *testing.T) {
	err := check.WriteFound(&bytes.Buffer{}, []check.Found{{}, {Match: true}})
	if err == nil || !strings.Contains(err.Error(), "write 1 matches but is not present") {
		t.Errorf("error %v, want write 1 named", err)
	}
}
