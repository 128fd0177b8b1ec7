package efs

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"
	"time"
)

// TestBurstingFallsToBaseline: with a tiny credit balance a bursting file
// system writes fast until the credits are spent, then at the baseline;
// reads then cost a third.
func TestBurstingFallsToBaseline(t *testing.T) {
	cfg := DefaultConfig(Bursting)
	cfg.BurstMiBps = 20        // below what FUSE manages here, so it is measurable
	cfg.CreditBytes = 8 * mib  // spent by the first file
	cfg.StoredBytes = 40 * gib // baseline 2000 KiB/s
	f, src := mountT(t, cfg)
	baseline := cfg.BaselineBytesPerSec() / mib

	if s := f.Stats(); s.LimitMiBps != 20 || s.CreditBytes < 8*mib {
		t.Fatalf("fresh mount: limit %.2f MiB/s, credits %s; want 20 MiB/s and 8 MiB", s.LimitMiBps, FormatBytes(s.CreditBytes))
	}
	d, err := writeFile(filepath.Join(f.MountPoint(), "burst"), 8*mib)
	if err != nil {
		t.Fatal(err)
	}
	burst := mibps(8*mib, d)

	spent := f.Stats() // credits earned back during the burst (a busy machine takes its time)
	d, err = writeFile(filepath.Join(f.MountPoint(), "after"), 4*mib)
	if err != nil {
		t.Fatal(err)
	}
	after := mibps(4*mib, d)
	s := f.Stats()
	// The rates are ceilings: a busy machine may run slower than either,
	// never faster. The second file may not take more than the bucket
	// allowed: the credits held when it began (earned back at the baseline
	// while the first was written), the baseline earned during it, and the
	// pacer's 100 ms tolerance at the limit then in force; a fixed 1.35x
	// the baseline failed when a slow first file had earned more back.
	writeAllowed := float64(spent.CreditBytes) + cfg.BaselineBytesPerSec()*d.Seconds() + 0.1*spent.LimitMiBps*mib
	writeCeiling := writeAllowed / d.Seconds() / mib
	t.Logf("burst %.2f MiB/s, after the credits %.2f MiB/s (baseline %.2f, ceiling %.2f from %s of credits at its start)\n%s",
		burst, after, baseline, writeCeiling, FormatBytes(spent.CreditBytes), s)
	if after > writeCeiling {
		t.Errorf("writing after the credits ran at %.2f MiB/s, above the %.2f MiB/s the bucket allowed (baseline %.2f)", after, writeCeiling, baseline)
	}
	if burst < 4*after {
		t.Errorf("bursting did not slow down: %.2f MiB/s on credits, %.2f MiB/s after", burst, after)
	}
	if s.CreditBytes > mib/2 || s.LimitMiBps != baseline {
		t.Errorf("Stats after the credits: balance %s, limit %.3f MiB/s; want about none and the %.3f MiB/s baseline",
			FormatBytes(s.CreditBytes), s.LimitMiBps, baseline)
	}

	// A file the mount has never cached, so the reads reach the model.
	cold := filepath.Join(src, "cold")
	if err := os.WriteFile(cold, bytes.Repeat([]byte{7}, 6*mib), 0o644); err != nil {
		t.Fatal(err)
	}
	before := f.Stats() // credits earned back while the file was written (a busy machine takes its time)
	n, d, err := readFile(filepath.Join(f.MountPoint(), "cold"))
	if err != nil {
		t.Fatal(err)
	}
	read := mibps(n, d)
	// Reads are metered at a third: clearly above the write baseline even on
	// a busy machine, and never more metered bytes than the bucket allows:
	// the credits held when the read began, the baseline earned during it
	// and the pacer's 100 ms tolerance at the limit then in force.
	allowed := float64(before.CreditBytes) + cfg.BaselineBytesPerSec()*d.Seconds() + 0.1*before.LimitMiBps*mib
	ceiling := 3 * allowed / d.Seconds() / mib
	t.Logf("reads at the baseline: %.2f MiB/s (ceiling %.2f MiB/s from %s of credits at the start)", read, ceiling, FormatBytes(before.CreditBytes))
	if read < 1.5*baseline || read > ceiling {
		t.Errorf("reading ran at %.2f MiB/s, want above 1.5x the %.2f MiB/s write baseline and at most %.2f MiB/s (reads metered at a third)", read, baseline, ceiling)
	}
}

// TestSlowFaultDropsThroughput: a slow fault holds writes to its rate until lifted.
func TestSlowFaultDropsThroughput(t *testing.T) {
	f, _ := mountT(t, quickConfig())
	fast, err := writeFile(filepath.Join(f.MountPoint(), "before"), 16*mib)
	if err != nil {
		t.Fatal(err)
	}
	id, err := f.Inject(Fault{Kind: Slow, SlowMiBps: 4, Ops: []Op{OpWrite}})
	if err != nil {
		t.Fatal(err)
	}
	slow, err := writeFile(filepath.Join(f.MountPoint(), "during"), 8*mib)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Lift(id); err != nil {
		t.Fatal(err)
	}
	again, err := writeFile(filepath.Join(f.MountPoint(), "after"), 16*mib)
	if err != nil {
		t.Fatal(err)
	}
	before, during, after := mibps(16*mib, fast), mibps(8*mib, slow), mibps(16*mib, again)
	t.Logf("before %.1f MiB/s, slow %.2f MiB/s, lifted %.1f MiB/s", before, during, after)
	if during > 4.6 || during < 3.2 {
		t.Errorf("under a 4 MiB/s slow fault writes ran at %.2f MiB/s", during)
	}
	if before < 2*during || after < 2*during {
		t.Errorf("the fault did not drop throughput: before %.1f, during %.2f, after %.1f MiB/s", before, during, after)
	}
}

// TestMountPassesFSConformance runs testing/fstest over a small tree read
// through the mount, with the default EFS latencies.
func TestMountPassesFSConformance(t *testing.T) {
	src := t.TempDir()
	files := map[string][]byte{
		"a.txt":         []byte("alpha"),
		"dir/b.txt":     []byte("bravo"),
		"dir/sub/c.bin": make([]byte, 3*mib+17),
	}
	rand.Read(files["dir/sub/c.bin"])
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig(Elastic)
	f := mountDirT(t, src, filepath.Join(t.TempDir(), "mnt"), cfg)
	if err := fstest.TestFS(os.DirFS(f.MountPoint()), "a.txt", "dir/b.txt", "dir/sub/c.bin"); err != nil {
		t.Fatal(err)
	}
	// Files report NFS's 1 MiB block size, so stdio buffers as on EFS.
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(f.MountPoint(), "a.txt"), &st); err != nil || st.Blksize != NFSRequestBytes {
		t.Errorf("stat through the mount: block size %d (%v), want %d as NFS reports", st.Blksize, err, NFSRequestBytes)
	}
	// What is written through the mount lands in the source, byte for byte.
	data := make([]byte, 2*mib+5)
	rand.Read(data)
	if err := os.WriteFile(filepath.Join(f.MountPoint(), "dir", "new.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(f.MountPoint(), "dir", "new.bin"), filepath.Join(f.MountPoint(), "moved.bin")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(src, "moved.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("file written and renamed through the mount differs in the source (%v)", err)
	}
}

// TestStallIsReleasedWhenTheMountGoes: nothing hangs forever: an operation
// stalled by a fault fails once the file system is unmounted or its context
// is cancelled, and the mount is gone.
func TestStallIsReleasedWhenTheMountGoes(t *testing.T) {
	for _, how := range []string{"Unmount", "context cancelled"} {
		t.Run(how, func(t *testing.T) {
			src, mnt := t.TempDir(), filepath.Join(t.TempDir(), "mnt")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			f, err := Mount(ctx, src, mnt, quickConfig())
			if errors.Is(err, ErrNoFUSE) {
				t.Skipf("skipping: this machine cannot mount FUSE: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				f.Unmount()
				assertNotMounted(t, mnt)
			})
			if _, err := f.Inject(Fault{Kind: Stall, Ops: []Op{OpWrite, OpFsync}}); err != nil {
				t.Fatal(err)
			}
			written := make(chan error, 1)
			go func() {
				_, err := writeFile(filepath.Join(mnt, "stuck"), mib)
				written <- err
			}()
			select {
			case err := <-written:
				t.Fatalf("write returned (%v) under a stall", err)
			case <-time.After(500 * time.Millisecond):
			}
			if how == "Unmount" {
				f.Unmount()
			} else {
				cancel()
			}
			select {
			case err := <-written:
				if err == nil {
					t.Error("the stalled write succeeded after the mount went away, want an error")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the stalled write still hangs 10 s after the mount went away")
			}
			deadline := time.Now().Add(5 * time.Second)
			for isMounted(mnt) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			assertNotMounted(t, mnt)
		})
	}
}

// TestUnmountDetachesABusyMount: a process with its working directory in the
// mount (as valkey-server chdirs into --dir) does not leave it mounted.
func TestUnmountDetachesABusyMount(t *testing.T) {
	f, _ := mountT(t, quickConfig())
	// Not exec.Cmd.Dir: the forked child would chdir into the mount before
	// exec, while it shares this process's memory, and under the race
	// detector nothing answers it. The shell changes directory after exec.
	sleeper := exec.Command("sh", "-c", `cd "$1" && exec sleep 30`, "sh", f.MountPoint())
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		sleeper.Process.Kill()
		sleeper.Wait()
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !cwdIn(sleeper.Process.Pid, f.MountPoint()) {
		if time.Now().After(deadline) {
			t.Fatal("the sleeper never entered the mount")
		}
		time.Sleep(10 * time.Millisecond)
	}
	err := f.Unmount()
	if err != nil && !errors.Is(err, ErrDetachedBusy) {
		t.Fatalf("Unmount of a busy mount: %v", err)
	}
	if isMounted(f.MountPoint()) {
		t.Fatalf("%s still mounted after Unmount of a busy mount", f.MountPoint())
	}
}

// TestMountRefusesBadPaths: the mount point may not lie inside the source
// (it would look itself up forever), and the source must be a directory.
func TestMountRefusesBadPaths(t *testing.T) {
	src := t.TempDir()
	if _, err := Mount(context.Background(), src, filepath.Join(src, "mnt"), quickConfig()); err == nil {
		t.Error("mounted inside its own source")
	}
	if _, err := Mount(context.Background(), filepath.Join(src, "missing"), filepath.Join(t.TempDir(), "mnt"), quickConfig()); err == nil {
		t.Error("mounted a missing source")
	}
	if _, err := Mount(context.Background(), src, filepath.Join(t.TempDir(), "mnt"), Config{Mode: Provisioned}); err == nil {
		t.Error("mounted provisioned mode without a rate")
	}
}

func TestMissingFUSEDeviceIsErrNoFUSE(t *testing.T) {
	err := checkFUSE(filepath.Join(t.TempDir(), "fuse"))
	if !errors.Is(err, ErrNoFUSE) {
		t.Errorf("checkFUSE of a missing device: %v, want ErrNoFUSE", err)
	}
}

func TestParseMountInfo(t *testing.T) {
	tests := []struct {
		line string
		want mountEntry
	}{
		{
			"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
			mountEntry{point: "/mnt2", fstype: "ext3", source: "/dev/root"},
		},
		{
			`600 30 0:55 / /tmp/a\040b/mnt rw,nosuid,nodev,relatime - fuse.valkey-chaos-efs efs:/tmp/src rw,user_id=0,group_id=0`,
			mountEntry{point: "/tmp/a b/mnt", fstype: "fuse.valkey-chaos-efs", source: "efs:/tmp/src"},
		},
	}
	for _, tt := range tests {
		got, ok := parseMountInfo(tt.line)
		if !ok || got != tt.want {
			t.Errorf("parseMountInfo(%q) = %+v, %v; want %+v", tt.line, got, ok, tt.want)
		}
	}
	if _, ok := parseMountInfo("garbage"); ok {
		t.Error("parsed a garbage line")
	}
}

// cwdIn reports whether process pid has its working directory at dir.
func cwdIn(pid int, dir string) bool {
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	return err == nil && cwd == dir
}

// statErrno returns the errno of stat(path), 0 when it succeeds.
func statErrno(path string) syscall.Errno {
	var st syscall.Stat_t
	err := syscall.Stat(path, &st)
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return 0
}
