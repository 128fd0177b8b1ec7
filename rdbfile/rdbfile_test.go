package rdbfile

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in      string
		magic   string
		version int
		err     bool
	}{
		{"REDIS0011\xfa\x09redis-ver", "REDIS", 11, false},
		{"REDIS0010", "REDIS", 10, false},
		{"VALKEY080\xfa", "VALKEY", 80, false},
		{"REDIS00", "", 0, true},
		{"REDISabcd", "", 0, true},
		{"", "", 0, true},
		{"\x00\x00garbage", "", 0, true},
	} {
		h, err := Parse(strings.NewReader(c.in))
		if (err != nil) != c.err || h.Magic != c.magic || h.Version != c.version {
			t.Errorf("Parse(%q) = %+v, %v; want %s %d (error %v)", c.in, h, err, c.magic, c.version, c.err)
		}
		if c.err && err != nil && !errors.Is(err, ErrNotRDB) && c.in != "" {
			t.Errorf("Parse(%q) error %v is not ErrNotRDB", c.in, err)
		}
	}
}

// saveWith starts bin on a fresh directory, writes a key, saves and
// returns the dump's path.
func saveWith(t *testing.T, bin string) string {
	t.Helper()
	path, err := exec.LookPath(bin)
	if err != nil {
		t.Fatalf("%s not installed (scripts/setup.sh installs valkey-server and redis-server): %v", bin, err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := exec.CommandContext(ctx, path, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--daemonize", "no")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var conn net.Conn
	for conn == nil {
		if conn, err = net.DialTimeout("tcp", addr, 100*time.Millisecond); err != nil {
			if ctx.Err() != nil {
				t.Fatalf("%s never accepted on %s", bin, addr)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 64)
	for _, cmd := range []string{"SET k v\r\n", "SAVE\r\n"} {
		if _, err := conn.Write([]byte(cmd)); err != nil {
			t.Fatal(err)
		}
		n, err := conn.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), "+OK") {
			t.Fatalf("%s %q: %q %v", bin, cmd, buf[:n], err)
		}
	}
	return filepath.Join(dir, "dump.rdb")
}

// The oracle is each server's own dump: Redis 7.0 writes format 10,
// Valkey 8.0 writes 11 (FACTS.md), both under the REDIS magic.
func TestReadFileOnRealDumps(t *testing.T) {
	for _, c := range []struct {
		bin     string
		version int
	}{{"redis-server", 10}, {"valkey-server", 11}} {
		p := saveWith(t, c.bin)
		h, size, err := ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := os.Stat(p)
		if h.Magic != "REDIS" || h.Version != c.version || size != st.Size() || size < 9 {
			t.Errorf("%s: header %+v size %d, want REDIS %d and the file's %d bytes", c.bin, h, size, c.version, st.Size())
		}
	}
}

func TestReadFileMissing(t *testing.T) {
	if _, _, err := ReadFile(filepath.Join(t.TempDir(), "dump.rdb")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want ErrNotExist", err)
	}
}
