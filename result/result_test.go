package result

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteLoadRoundTripLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	lw := 3.5
	run := &Run{RunID: "r1", Trials: []Trial{{Scenario: "crash", Lost: 7, RTOS: &lw}}}
	for i := 0; i < 3; i++ { // rewritten after every trial, as the runner does
		if err := Write(dir, run); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Schema != Schema || got.Trials[0].Lost != 7 || *got.Trials[0].RTOS != 3.5 {
		t.Errorf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after atomic writes, want result.json only", len(entries))
	}
}

func TestLoadBadInputNamesTheFileAndTheFix(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want string
	}{
		{"missing", filepath.Join(dir, "absent.json"), "valkey-chaos run"},
		{"truncated", write("trunc.json", `{"schema": "valkey-chaos/result/v1", "trials": [`), "truncated"},
		{"other schema version", write("v9.json", `{"schema": "valkey-chaos/result/v9"}`), "matching valkey-chaos version"},
		{"not ours", write("other.json", `{"hello": 1}`), "no valkey-chaos schema"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(tc.path)
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
				t.Fatalf("Load: %v, want bad input naming %s and %q", err, filepath.Base(tc.path), tc.want)
			}
		})
	}
}

// A writer that fails midway leaves the previous file whole and no temp.
func TestWriteAtomicFailureKeepsThePreviousFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "history.bin")
	if err := WriteFileAtomic(path, []byte("complete")); err != nil {
		t.Fatal(err)
	}
	err := WriteAtomic(path, func(w io.Writer) error {
		w.Write([]byte("half of it"))
		return errors.New("disk gone")
	})
	if err == nil || !strings.Contains(err.Error(), "history.bin") {
		t.Fatalf("WriteAtomic = %v, want an error naming the file", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "complete" {
		t.Errorf("file now holds %q, want the previous %q", got, "complete")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries in the directory, want no temp file left", len(entries))
	}
}
