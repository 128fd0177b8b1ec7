package probe_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/target/local"
)

// datasetKeys makes an RDB that takes most of a second to load here
// (1M keys: 0.8-0.9 s), so LOADING lasts long enough to measure.
const datasetKeys = 1_000_000

var dataset struct {
	once sync.Once
	dir  string // holds dump.rdb with datasetKeys keys "d:<i>"
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dataset.dir != "" {
		os.RemoveAll(dataset.dir)
	}
	os.Exit(code)
}

// needServer skips when valkey-server is not installed.
func needServer(t testing.TB) {
	t.Helper()
	if _, err := local.ResolveBin(""); err != nil {
		t.Fatalf("valkey-server not installed (run scripts/setup.sh): %v", err)
	}
}

// startServer spawns valkey-server on dir with a log file and kills its
// process group when the test ends. It does not wait for the port.
func startServer(t testing.TB, dir, save, logFile string, extra ...string) *local.Server {
	t.Helper()
	needServer(t)
	srv, err := local.Spawn(local.ServerConfig{Dir: dir, Save: save, LogFile: logFile, ExtraArgs: extra})
	if err != nil {
		t.Fatalf("spawn valkey-server: %v", err)
	}
	t.Cleanup(func() { stopServer(srv) })
	return srv
}

func stopServer(srv *local.Server) {
	if srv.Running() {
		_ = srv.KillGroup()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Wait(ctx)
}

// waitAccepting waits for the port with the target's own check.
func waitAccepting(t testing.TB, srv *local.Server) {
	t.Helper()
	if err := srv.WaitAccepting(context.Background(), 30*time.Second); err != nil {
		t.Fatalf("server never accepted: %v", err)
	}
}

// sigterm sends SIGTERM and waits until the process exits.
func sigterm(t testing.TB, srv *local.Server) {
	t.Helper()
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Wait(ctx); err != nil {
		t.Fatalf("server did not exit after SIGTERM: %v", err)
	}
}

// datasetDir copies the shared 1M-key dump.rdb into a new temp dir, building
// it once per test binary with pipelined SETs (DEBUG POPULATE is disabled).
func datasetDir(t testing.TB) string {
	t.Helper()
	needServer(t)
	dataset.once.Do(func() { dataset.dir, dataset.err = buildDataset(datasetKeys) })
	if dataset.err != nil {
		t.Fatalf("build dataset: %v", dataset.err)
	}
	dir := t.TempDir()
	if err := copyFile(filepath.Join(dataset.dir, "dump.rdb"), filepath.Join(dir, "dump.rdb")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func buildDataset(n int) (string, error) {
	dir, err := os.MkdirTemp("", "probe-dataset-")
	if err != nil {
		return "", err
	}
	srv, err := local.Spawn(local.ServerConfig{Dir: dir, Save: ""})
	if err != nil {
		return dir, err
	}
	defer stopServer(srv)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.WaitAccepting(ctx, time.Minute); err != nil {
		return dir, err
	}
	if err := pipelineSets(ctx, srv.Addr(), n); err != nil {
		return dir, err
	}
	rep, err := probe.Do(ctx, srv.Addr(), time.Minute, "SAVE")
	if err != nil || rep.Str != "OK" {
		return dir, fmt.Errorf("SAVE: %v %v", rep, err)
	}
	return dir, nil
}

// pipelineSets writes n keys "d:<i>" with 100-byte values on one connection,
// a writer goroutine streaming commands while this one counts the replies.
func pipelineSets(ctx context.Context, addr string, n int) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	werr := make(chan error, 1)
	go func() {
		// Built by hand, not with fmt: this loop runs a million times under -race.
		const valueSize = 100
		w := bufio.NewWriterSize(nc, 256<<10)
		cmd := make([]byte, 0, 256)
		for i := 0; i < n; i++ {
			cmd = append(cmd[:0], "*3\r\n$3\r\nSET\r\n$"...)
			key := strconv.AppendInt([]byte("d:"), int64(i), 10)
			cmd = strconv.AppendInt(cmd, int64(len(key)), 10)
			cmd = append(cmd, "\r\n"...)
			cmd = append(cmd, key...)
			cmd = append(cmd, "\r\n$"...)
			cmd = strconv.AppendInt(cmd, valueSize, 10)
			cmd = append(cmd, "\r\n"...)
			// Distinct values, so the RDB is not trivially compressible.
			val := strconv.AppendInt(cmd[len(cmd):], int64(i)*7919, 36)
			for len(val) < valueSize {
				val = append(val, byte('a'+len(val)%26))
			}
			cmd = append(cmd[:len(cmd)+valueSize], "\r\n"...)
			w.Write(cmd)
		}
		werr <- w.Flush()
	}()
	r := bufio.NewReaderSize(nc, 64<<10)
	for i := 0; i < n; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("reply %d of %d: %w", i, n, err)
		}
		if line != "+OK\r\n" {
			return fmt.Errorf("SET %d replied %q", i, line)
		}
	}
	return <-werr
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// readLog parses a server log file.
func readLog(t testing.TB, path string) []probe.LogEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := probe.ParseLog(f, time.Local)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// firstOf returns the first event of kind, failing the test when absent.
func firstOf(t testing.TB, evs []probe.LogEvent, kind probe.LogKind) probe.LogEvent {
	t.Helper()
	for _, ev := range evs {
		if ev.Kind == kind {
			return ev
		}
	}
	t.Fatalf("no %s line in the server log", kind)
	return probe.LogEvent{}
}

func fixed(addr string) func() string { return func() string { return addr } }
