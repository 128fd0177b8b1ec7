package local

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/target"
)

// The runner reads a kept trial through this method (scenarios declares the
// interface it consumes).
var _ interface {
	KeptData() (target.KeptData, bool)
} = (*Target)(nil)

// writeKeys pipelines n SETs of 100-byte values (every third with a TTL)
// and reads every reply.
func writeKeys(t *testing.T, addr, prefix string, n int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriter(conn)
	value := strings.Repeat("v", 100)
	for i := range n {
		if i%3 == 0 {
			fmt.Fprintf(w, "SET %s%d %s EX 3600\r\n", prefix, i, value)
		} else {
			fmt.Fprintf(w, "SET %s%d %s\r\n", prefix, i, value)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for i := range n {
		if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
			t.Fatalf("reply %d to SET: %q, %v", i, line, err)
		}
	}
}

func requireChecker(t *testing.T) string {
	t.Helper()
	checker := FindRDBChecker()
	if checker == "" {
		t.Fatalf("no %s on PATH (scripts/setup.sh installs valkey-tools)", strings.Join(RDBCheckers, " or "))
	}
	return checker
}

// The checker's verdict and key count on a dump a real server wrote, and on
// the same dump cut in half (a save torn by a crash or a full volume). The
// key counts are held against the server's own DBSIZE and INFO keyspace.
func TestCheckRDBOnRealAndTruncatedDumps(t *testing.T) {
	checker := requireChecker(t)
	tg := newTarget(t, Config{})
	inst, err := tg.Start(context.Background(), target.StartSpec{Save: "3600 1", Label: "check"})
	if err != nil {
		t.Fatal(err)
	}
	writeKeys(t, inst.Addr, "k", 3000)
	if got := resp(t, inst.Addr, "SAVE"); got != "+OK" {
		t.Fatalf("SAVE: %s", got)
	}
	keys, _ := strconv.ParseInt(strings.TrimPrefix(resp(t, inst.Addr, "DBSIZE"), ":"), 10, 64)
	if keys != 3000 {
		t.Fatalf("DBSIZE %d, want 3000", keys)
	}
	dump := filepath.Join(tg.DataDir(), "dump.rdb")
	ok, err := CheckRDB(context.Background(), checker, dump)
	if err != nil {
		t.Fatal(err)
	}
	if !ok.OK || ok.Verdict != "ok" || ok.Keys != keys || ok.Expires != 1000 {
		t.Errorf("check of the saved dump = %+v, want ok with %d keys and 1000 expires", ok, keys)
	}

	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(t.TempDir(), "torn.rdb")
	if err := os.WriteFile(torn, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	bad, err := CheckRDB(context.Background(), checker, torn)
	if err != nil {
		t.Fatal(err)
	}
	if bad.OK || !strings.HasPrefix(bad.Verdict, "error: ") || bad.Keys <= 0 || bad.Keys >= keys {
		t.Errorf("check of the dump cut in half = %+v, want an error with some but not all of %d keys read", bad, keys)
	}
	if _, err := CheckRDB(context.Background(), checker, filepath.Join(t.TempDir(), "missing.rdb")); err == nil {
		t.Error("a missing dump gave a verdict, want an error")
	}
}

// --keep-data: the trial's directory stays, named by its label, with the
// files the replacement started on beside it; each dump's key count matches
// what the server that wrote it held.
func TestKeepDataKeepsTheTrialsDumpsAndChecksThem(t *testing.T) {
	requireChecker(t)
	root := filepath.Join(t.TempDir(), "data") // created by the first trial
	tg := newTarget(t, Config{WorkDir: root, KeepData: true})
	inst, err := tg.Start(context.Background(), target.StartSpec{Save: "3600 1", Label: "crash-1"})
	if err != nil {
		t.Fatal(err)
	}
	writeKeys(t, inst.Addr, "a", 200)
	if got := resp(t, inst.Addr, "SAVE"); got != "+OK" {
		t.Fatalf("SAVE: %s", got)
	}
	writeKeys(t, inst.Addr, "lost", 50) // after the save: the crash loses them
	if _, err := tg.Inject(context.Background(), target.Crash); err != nil {
		t.Fatal(err)
	}
	rec, err := tg.Recover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := waitValue(t, rec.Instance.Addr, "a1"); got != strings.Repeat("v", 100) {
		t.Fatalf("a1 after recovery = %q", got)
	}
	writeKeys(t, rec.Instance.Addr, "b", 100) // the shutdown save at Finish keeps these
	if err := tg.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}
	kept, ok := tg.KeptData()
	if !ok {
		t.Fatal("KeptData: nothing kept")
	}
	if kept.Dir != filepath.Join(root, "crash-1") || kept.AtFault != kept.Dir+".at-fault" {
		t.Errorf("kept %s and %s, want %s and its .at-fault", kept.Dir, kept.AtFault, filepath.Join(root, "crash-1"))
	}
	want := map[string]int64{
		filepath.Join(kept.AtFault, "dump.rdb"): 200,       // what the replacement loaded
		filepath.Join(kept.Dir, "dump.rdb"):     200 + 100, // the replacement's shutdown save
	}
	for _, c := range kept.Checks {
		if n, ok := want[c.File]; !ok || !c.OK || c.Keys != n {
			t.Errorf("check %+v, want ok with %d keys", c, n)
		}
		delete(want, c.File)
	}
	for f := range want {
		t.Errorf("no check of %s in %+v", f, kept.Checks)
	}
	for _, dir := range []string{kept.Dir, kept.AtFault} {
		if text, err := os.ReadFile(filepath.Join(dir, "check-rdb.txt")); err != nil || !strings.Contains(string(text), "dump.rdb: ok") {
			t.Errorf("%s/check-rdb.txt = %q, %v", dir, text, err)
		}
	}
	if err := tg.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(kept.Dir, "dump.rdb")); err != nil {
		t.Errorf("Close removed the kept dump: %v", err)
	}
}
