package loadgen

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A history.bin opened from its file gives the ops WriteTo stored, in
// chunks of any size (the sample's odd values included), can be written
// again byte for byte, and a damaged file is refused at open as ReadHistory
// refuses it.
func TestOpenHistoryReadsTheFileInChunks(t *testing.T) {
	want := sampleHistory()
	var buf bytes.Buffer
	if _, err := want.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "h.history.bin")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := OpenHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, spooled := h.Spooled(); spooled || h.Ops != nil || h.Len() != len(want.Ops) {
		t.Fatalf("opened: spooled %v, %d ops in memory, Len %d; want %d ops on disk, not a spool", spooled, len(h.Ops), h.Len(), len(want.Ops))
	}
	for _, n := range []int{1, 7, 999, 1 << 20} {
		var got []Op
		var firsts []int
		err := h.Chunks(n, func(first int, ops []Op) bool {
			firsts = append(firsts, first)
			got = append(got, ops...)
			return true
		})
		var wantFirsts []int
		for f := 0; f < len(want.Ops); f += n {
			wantFirsts = append(wantFirsts, f)
		}
		if err != nil || !reflect.DeepEqual(got, want.Ops) || !reflect.DeepEqual(firsts, wantFirsts) {
			t.Errorf("chunks of %d: %d ops (%v), %d chunks; want the %d ops written in %d", n, len(got), err, len(firsts), len(want.Ops), len(wantFirsts))
		}
	}
	var again bytes.Buffer
	if _, err := h.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), buf.Bytes()) {
		t.Errorf("written again from the file: %d bytes (%v), want the same %d bytes", again.Len(), err, buf.Len())
	}

	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	wrongVersion := bytes.Clone(good[:len(good)-4])
	wrongVersion[6] = 9
	wrongVersion = binary.LittleEndian.AppendUint32(wrongVersion, crc32.ChecksumIEEE(wrongVersion))
	extra := bytes.Clone(good[:len(good)-4])
	extra = append(extra, 0)
	extra = binary.LittleEndian.AppendUint32(extra, crc32.ChecksumIEEE(extra))
	for _, tt := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "bad magic"},
		{"not a history", []byte("{\"schema\": \"valkey-chaos/result/v1\"}"), "bad magic"},
		{"truncated", good[:len(good)-100], "checksum"},
		{"bit flip", flipped, "checksum"},
		{"future version", wrongVersion, "version 9"},
		{"a byte after the last op", extra, "1 bytes after the last op"},
	} {
		bad := filepath.Join(t.TempDir(), "bad.bin")
		if err := os.WriteFile(bad, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenHistory(bad); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: OpenHistory error %v, want one mentioning %q", tt.name, err, tt.want)
		}
		if _, err := ReadHistory(bytes.NewReader(tt.data)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadHistory error %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}
