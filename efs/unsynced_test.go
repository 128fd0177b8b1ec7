package efs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/trigpointing/valkey-chaos/loadgen"
)

// writeThrough writes data at off in the file at path (through the mount),
// fsyncs when sync is set, and closes it, as a process that exits would.
func writeThrough(t *testing.T, path string, flags int, off int64, data []byte, sync bool) {
	t.Helper()
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDropUnsyncedRevertsToLastFsync(t *testing.T) {
	f, src := mountT(t, quickConfig())
	mnt := f.MountPoint()
	synced := bytes.Repeat([]byte("s"), 1000)
	// a: synced, then appended to and partly overwritten without fsync.
	a := filepath.Join(mnt, "a")
	writeThrough(t, a, os.O_CREATE|os.O_WRONLY, 0, synced, true)
	writeThrough(t, a, os.O_WRONLY, 1000, bytes.Repeat([]byte("u"), 500), false)
	writeThrough(t, a, os.O_WRONLY, 0, []byte("overwritten"), false)
	// b: created and written, never synced.
	writeThrough(t, filepath.Join(mnt, "b"), os.O_CREATE|os.O_WRONLY, 0, bytes.Repeat([]byte("b"), 100), false)
	// c: synced, then renamed (metadata: durable) to d.
	writeThrough(t, filepath.Join(mnt, "c"), os.O_CREATE|os.O_WRONLY, 0, []byte("kept"), true)
	if err := os.Rename(filepath.Join(mnt, "c"), filepath.Join(mnt, "d")); err != nil {
		t.Fatal(err)
	}
	// e: synced, then truncated without fsync.
	e := filepath.Join(mnt, "e")
	writeThrough(t, e, os.O_CREATE|os.O_WRONLY, 0, synced, true)
	if err := os.Truncate(e, 10); err != nil {
		t.Fatal(err)
	}

	// Through the control socket, as the runner of another process would.
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- f.ServeControl(ctx, sock) }()
	defer func() { cancel(); <-served }()
	var rep DropReport
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if rep, err = NewClient(sock).DropUnsynced(context.Background()); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("drop-unsynced through the control socket: %v", err)
	}

	want := map[string][]byte{"a": synced, "b": {}, "d": []byte("kept"), "e": synced}
	for name, content := range want {
		for _, dir := range []string{mnt, src} { // what the next process sees, and the storage itself
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, content) {
				t.Errorf("%s in %s after the drop: %d bytes %.20q (%v), want %d bytes %.20q", name, dir, len(got), got, err, len(content), content)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(mnt, "c")); !os.IsNotExist(err) {
		t.Errorf("c exists again after the drop (%v): renames are durable", err)
	}
	// Sizes are exact. Restored bytes count what the kernel sent: with the
	// write-back cache it rewrites whole pages, so a's small overwrite and
	// its append each rewrote its synced first 1000 bytes.
	wantFiles := []DroppedFile{
		{Path: "a", SizeBefore: 1500, SizeAfter: 1000, Restored: 2000},
		{Path: "b", SizeBefore: 100, SizeAfter: 0},
		{Path: "e", SizeBefore: 10, SizeAfter: 1000, Restored: 990},
	}
	if len(rep.Files) != len(wantFiles) {
		t.Fatalf("report: %+v, want a, b, e", rep.Files)
	}
	var wantBytes int64
	for i, w := range wantFiles {
		got := rep.Files[i]
		if got.Path != w.Path || got.SizeBefore != w.SizeBefore || got.SizeAfter != w.SizeAfter {
			t.Errorf("report file %d: %+v, want %+v", i, got, w)
		}
		if w.Path != "a" && got.Restored != w.Restored { // a's depends on the page size
			t.Errorf("%s: restored %d, want %d", w.Path, got.Restored, w.Restored)
		}
		wantBytes += max(got.SizeBefore-got.SizeAfter, 0) + got.Restored
	}
	if rep.Bytes != wantBytes {
		t.Errorf("report: %d bytes, want %d (cut off plus restored)", rep.Bytes, wantBytes)
	}
	// Nothing left to drop: a second drop is a no-op.
	if rep, err := f.DropUnsynced(); err != nil || len(rep.Files) != 0 {
		t.Errorf("second drop: %+v, %v; want nothing", rep, err)
	}
}

// A valkey-server with an AOF on the mount is SIGKILLed under a writer and
// the unsynced data dropped, as when a Fargate task's VM goes: everysec
// loses what came after its last fsync (at most about 2 s), always nothing.
func TestDropUnsyncedValkeyAOF(t *testing.T) {
	tests := []struct {
		fsync    string
		maxAge   time.Duration // oldest lost ack, before the kill
		wantLoss bool
	}{
		{"everysec", 2200 * time.Millisecond, true},
		{"always", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.fsync, func(t *testing.T) {
			f, _ := mountT(t, quickConfig())
			aof := []string{"--appendonly", "yes", "--appendfsync", tt.fsync, "--aof-use-rdb-preamble", "yes"}
			v := startValkey(t, f.MountPoint(), "", aof...)
			v.waitReady(t, 10*time.Second)
			base := time.Now()
			w, err := loadgen.StartWriter(context.Background(), loadgen.WriterConfig{
				Addr: v.addr, Prefix: "vc:lazy:", Conns: 4, Pacer: loadgen.ConstantPacer{Freq: 500},
				Base: base, MaxOps: 100_000, MaxDuration: time.Minute, OpTimeout: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2500 * time.Millisecond)
			killAt := time.Since(base)
			v.kill()
			h := w.Stop()
			rep, err := f.DropUnsynced()
			if err != nil {
				t.Fatalf("drop unsynced: %v", err)
			}
			v2 := startValkey(t, f.MountPoint(), "", aof...)
			v2.waitReady(t, 20*time.Second)
			lost, acked := lostAcks(t, v2.addr(), h)
			oldest := time.Duration(0)
			for _, op := range lost {
				oldest = max(oldest, killAt-op.Done)
			}
			t.Logf("appendfsync %s: %d acked, %d lost, oldest lost ack %v before the kill; dropped %d B in %+v", tt.fsync, acked, len(lost), oldest, rep.Bytes, rep.Files)
			if acked < 500 {
				t.Fatalf("only %d writes acknowledged: the test proves little", acked)
			}
			if oldest > tt.maxAge {
				t.Errorf("a write acknowledged %v before the kill was lost; appendfsync %s allows %v", oldest, tt.fsync, tt.maxAge)
			}
			if tt.wantLoss && len(lost) == 0 {
				t.Errorf("nothing lost with appendfsync everysec after dropping %d unsynced bytes: the mode did not bite", rep.Bytes)
			}
			if !tt.wantLoss && len(lost) != 0 {
				t.Errorf("%d acknowledged writes lost with appendfsync always", len(lost))
			}
		})
	}
}

// lostAcks reads back the acknowledged writes of h and returns those absent.
func lostAcks(t *testing.T, addr string, h *loadgen.History) (lost []loadgen.Op, acked int) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, ReadTimeout: 10 * time.Second, MaxRetries: -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
	defer c.Close()
	ctx := context.Background()
	pipe := c.Pipeline()
	var ops []loadgen.Op
	var cmds []*redis.IntCmd
	for _, op := range h.Ops {
		if op.Outcome == loadgen.OK {
			ops = append(ops, op)
			cmds = append(cmds, pipe.Exists(ctx, loadgen.Key("vc:lazy:", op.Seq)))
		}
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatalf("read back: %v", err)
		}
	}
	for i, cmd := range cmds {
		if cmd.Val() == 0 {
			lost = append(lost, ops[i])
		}
	}
	return lost, len(ops)
}
