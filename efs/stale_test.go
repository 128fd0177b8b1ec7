package efs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a standalone mount daemon (what `valkey-chaos
// efs mount` runs), so a test can SIGKILL a daemon that owns a real mount.
const helperEnv = "VC_EFS_TEST_DAEMON"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(runDaemon())
	}
	os.Exit(m.Run())
}

func runDaemon() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := Run(ctx, os.Getenv("VC_EFS_SRC"), os.Getenv("VC_EFS_MNT"), DefaultConfig(Unlimited), os.Getenv("VC_EFS_CONTROL"), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "daemon:", err)
		return 1
	}
	return 0
}

// startDaemon runs a mount daemon in a child process and waits until its
// control socket answers.
func startDaemon(t *testing.T, src, mnt, control string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "VC_EFS_SRC="+src, "VC_EFS_MNT="+mnt, "VC_EFS_CONTROL="+control)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start daemon: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		exited <- nil // later cleanups must not block on it
	})
	client := NewClient(control)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			if strings.Contains(stderr.String(), ErrNoFUSE.Error()) {
				t.Skipf("skipping: this machine cannot mount FUSE: %s", stderr.String())
			}
			t.Fatalf("daemon exited while starting (%v): %s", err, stderr.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := client.Stats(ctx)
		cancel()
		if err == nil {
			return cmd
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon control socket not answering after 15 s: %v; stderr: %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestControlSocketDrivesARunningMount injects and lifts faults in another
// process's mount and reads its stats, as `valkey-chaos efs fault/lift/stats` do.
func TestControlSocketDrivesARunningMount(t *testing.T) {
	src, mnt := t.TempDir(), filepath.Join(t.TempDir(), "mnt")
	control := filepath.Join(t.TempDir(), "efs.sock")
	t.Cleanup(func() {
		CleanupStale(mnt)
		assertNotMounted(t, mnt)
	})
	daemon := startDaemon(t, src, mnt, control)
	ctx := context.Background()
	client := NewClient(control)

	id, err := client.Inject(ctx, Fault{Kind: EIO, PathGlob: "blocked-*", Ops: []Op{OpCreate}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeFile(filepath.Join(mnt, "blocked-1"), 1024); !errors.Is(err, syscall.EIO) {
		t.Errorf("create under an injected eio: %v, want EIO", err)
	}
	if _, err := writeFile(filepath.Join(mnt, "fine"), mib); err != nil {
		t.Errorf("a file the fault does not match: %v", err)
	}
	faults, err := client.Faults(ctx)
	if err != nil || len(faults) != 1 || faults[0].ID != id || faults[0].Hits == 0 {
		t.Errorf("Faults = %+v, %v; want fault %d with hits", faults, err, id)
	}
	stats, err := client.Stats(ctx)
	if err != nil || stats.BytesWritten < mib || stats.Ops[OpCreate] == 0 {
		t.Errorf("Stats = %+v, %v; want the 1 MiB written", stats, err)
	}
	if _, err := client.Inject(ctx, Fault{Kind: Slow}); err == nil || !strings.Contains(err.Error(), "rate") {
		t.Errorf("a slow fault without a rate: %v, want the daemon's validation error", err)
	}
	if err := client.Lift(ctx, id+100); err == nil {
		t.Error("lifting an unknown fault succeeded")
	}
	if n, err := client.LiftAll(ctx); err != nil || n != 1 {
		t.Errorf("LiftAll = %d, %v; want 1", n, err)
	}
	if _, err := writeFile(filepath.Join(mnt, "blocked-2"), 1024); err != nil {
		t.Errorf("create after the fault was lifted: %v", err)
	}

	// Ctrl-C (or SIGTERM) ends the daemon cleanly: unmounted, socket gone.
	if err := daemon.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for isMounted(mnt) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if isMounted(mnt) {
		t.Errorf("%s still mounted after the daemon got SIGTERM", mnt)
	}
	for fileExists(control) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if fileExists(control) {
		t.Errorf("control socket %s left behind", control)
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestStaleMountAfterDaemonKill: a SIGKILLed daemon leaves "Transport
// endpoint is not connected"; CleanupStale clears it, and so does the next
// Mount on the same path, which then works.
func TestStaleMountAfterDaemonKill(t *testing.T) {
	for _, recovery := range []string{"CleanupStale", "Mount"} {
		t.Run(recovery, func(t *testing.T) {
			src, mnt := t.TempDir(), filepath.Join(t.TempDir(), "mnt")
			t.Cleanup(func() {
				CleanupStale(mnt)
				assertNotMounted(t, mnt)
			})
			daemon := startDaemon(t, src, mnt, filepath.Join(t.TempDir(), "efs.sock"))
			if err := os.WriteFile(filepath.Join(mnt, "kept"), []byte("before the crash"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := daemon.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for statErrno(mnt) != syscall.ENOTCONN && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if errno := statErrno(mnt); errno != syscall.ENOTCONN {
				t.Fatalf("after the daemon was killed stat(%s) gives %v, want ENOTCONN (a stale mount)", mnt, errno)
			}
			if mounted, _ := IsMounted(mnt); !mounted {
				t.Fatal("the stale mount is not in the mount table")
			}

			if recovery == "CleanupStale" {
				if err := CleanupStale(mnt); err != nil {
					t.Fatalf("CleanupStale: %v", err)
				}
				if mounted, _ := IsMounted(mnt); mounted {
					t.Fatal("still mounted after CleanupStale")
				}
			}
			f := mountDirT(t, src, mnt, quickConfig())
			got, err := os.ReadFile(filepath.Join(f.MountPoint(), "kept"))
			if err != nil || string(got) != "before the crash" {
				t.Errorf("new mount reads %q, %v; want the file written before the crash", got, err)
			}
		})
	}
}
