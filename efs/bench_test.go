package efs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// benchBytes is the size of one sequential pass: 100 MiB in 1 MiB requests.
const benchBytes = 100 * mib

// BenchmarkOverhead measures what the emulator itself costs: sequential
// 1 MiB writes (then fsync) and reads of 100 MiB, through a mount with no
// limit and no latency (unlimited) and with EFS latencies but a limit FUSE
// cannot reach (elastic), against the plain source directory. Reads through
// the mount start with its page cache dropped (the source file stays in the
// host's page cache, as it does for the plain directory), so they measure
// the FUSE path, not memory.
//
//	go test ./efs -run '^$' -bench Overhead -benchtime 3x
func BenchmarkOverhead(b *testing.B) {
	for _, target := range []string{"plain", "unlimited", "elastic"} {
		b.Run("write/"+target, func(b *testing.B) {
			dir, _ := benchDir(b, target)
			b.SetBytes(benchBytes)
			for b.Loop() {
				if _, err := writeFile(filepath.Join(dir, "seq"), benchBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("read/"+target, func(b *testing.B) {
			dir, f := benchDir(b, target)
			path := filepath.Join(dir, "seq")
			if _, err := writeFile(path, benchBytes); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(benchBytes)
			for b.Loop() {
				if target != "plain" {
					b.StopTimer()
					dropCache(b, path)
					b.StartTimer()
				}
				n, _, err := readFile(path)
				if err != nil || n != benchBytes {
					b.Fatalf("read %d bytes: %v", n, err)
				}
			}
			if f != nil && f.Stats().BytesRead < int64(b.N)*benchBytes {
				b.Fatalf("the mount served %d bytes of %d read: the rest came from its page cache", f.Stats().BytesRead, b.N*benchBytes)
			}
		})
	}
}

// benchDir returns the plain directory, or the mount point and mount of the
// given mode.
func benchDir(b *testing.B, target string) (string, *FS) {
	b.Helper()
	src := b.TempDir()
	if target == "plain" {
		return src, nil
	}
	mode, err := ParseMode(target)
	if err != nil {
		b.Fatal(err)
	}
	mnt := filepath.Join(b.TempDir(), "mnt")
	f, err := Mount(b.Context(), src, mnt, DefaultConfig(mode))
	if errors.Is(err, ErrNoFUSE) {
		b.Skipf("skipping: this machine cannot mount FUSE: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := f.Unmount(); err != nil {
			b.Errorf("unmount: %v", err)
		}
	})
	return mnt, f
}

// dropCache evicts the file's pages from the mount's page cache.
func dropCache(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkValkeyRDB measures what Valkey itself gets through the emulator:
// SAVE of a ~50 MB RDB and its load on restart, through a mount with no
// limit (unlimited, elastic) against the plain directory. The MB/s figure
// is RDB bytes per second of SAVE (client-side) or of load (server log).
//
//	go test ./efs -run '^$' -bench ValkeyRDB -benchtime 2x
func BenchmarkValkeyRDB(b *testing.B) {
	for _, target := range []string{"plain", "unlimited", "elastic"} {
		for _, phase := range []string{"save", "load"} {
			b.Run(phase+"/"+target, func(b *testing.B) {
				dir, _ := benchDir(b, target)
				v := startValkey(b, dir, "")
				v.waitReady(b, 10*time.Second)
				fill(b, v.conn(b), 50_000_000, 1000)
				c := v.conn(b)
				if _, err := c.do(time.Minute, "SAVE"); err != nil {
					b.Fatal(err)
				}
				info, err := os.Stat(filepath.Join(dir, "dump.rdb"))
				if err != nil {
					b.Fatal(err)
				}
				if phase == "save" {
					b.SetBytes(info.Size())
					for b.Loop() {
						if _, err := c.do(time.Minute, "SAVE"); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				v.kill()
				var loaded time.Duration
				for b.Loop() {
					if target != "plain" {
						dropCache(b, filepath.Join(dir, "dump.rdb"))
					}
					v := startValkey(b, dir, "")
					v.waitReady(b, time.Minute)
					m := loadedRe.FindStringSubmatch(v.log())
					if m == nil {
						b.Fatalf("no load time in the log:\n%s", v.log())
					}
					seconds, _ := strconv.ParseFloat(m[1], 64)
					loaded += time.Duration(seconds * float64(time.Second))
					v.kill()
				}
				// ns/op is a whole restart; this is the server's own load time.
				b.ReportMetric(float64(info.Size())*float64(b.N)/1e6/loaded.Seconds(), "load_MB/s")
			})
		}
	}
}
