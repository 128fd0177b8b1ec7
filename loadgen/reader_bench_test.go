package loadgen

import (
	"context"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

var vbGetRate = regexp.MustCompile(`GET: ([0-9.]+) requests per second`)

// valkeyBenchmarkGet fills keyspace keys with SETs of valueSize bytes, then
// returns valkey-benchmark's GET rate over them (all hits), on CPU 1.
func valkeyBenchmarkGet(b *testing.B, port, conns, ops, keyspace, valueSize int) float64 {
	b.Helper()
	run := func(test string, n int) []byte {
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", test, "-q", "-P", "1",
			"-c", strconv.Itoa(conns), "-n", strconv.Itoa(n), "-d", strconv.Itoa(valueSize), "-r", strconv.Itoa(keyspace)}
		name := "valkey-benchmark"
		if runtime.NumCPU() >= 2 {
			args = append([]string{"-c", "1", name}, args...)
			name = "taskset"
		}
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("valkey-benchmark -t %s: %v: %s", test, err, out)
		}
		return out
	}
	run("set", keyspace*4) // -r draws at random: 4x covers nearly all keys
	m := vbGetRate.FindSubmatch(run("get", ops))
	if m == nil {
		b.Fatal("no GET rate in valkey-benchmark output")
	}
	rate, _ := strconv.ParseFloat(string(m[1]), 64)
	return rate
}

// BenchmarkReaderThroughput compares the cache-aside reader at an unlimited
// rate with valkey-benchmark GET in the same run: 4 connections, pipeline 1,
// 100 B values, every read a hit (the key space is preloaded), for both
// client settings.
//
//	go test -run '^$' -bench ReaderThroughput -benchtime 3x ./loadgen
func BenchmarkReaderThroughput(b *testing.B) {
	const keys, conns = 100_000, 4
	for _, client := range []ReaderClient{ReaderClientDefault, ReaderClientTuned} {
		b.Run(string(client), func(b *testing.B) {
			srv := startServer(b)
			defer pin(b, srv.cmd.Process.Pid, 0)()
			ops := throughputOps() / 4
			if _, err := Preload(context.Background(), valkeyconn.Settings{}, srv.addr, "vc:rb:", keys, 100, 4); err != nil {
				b.Fatal(err)
			}
			var vbSum, oursSum float64
			for i := 0; i < b.N; i++ {
				vb := valkeyBenchmarkGet(b, srv.port, conns, ops, 10_000, 100) // its own keys; 10k keep the fill short
				restore := pin(b, os.Getpid(), 1)
				began := time.Now()
				r, err := StartReader(context.Background(), ReaderConfig{
					Addr: func() string { return srv.addr }, Prefix: "vc:rb:", Keys: keys, Seed: uint64(i),
					Client: client, Concurrency: conns, Pacer: ConstantPacer{Freq: math.Inf(1)},
					Base: began, MaxReads: uint64(ops), MaxDuration: 10 * time.Minute,
				})
				if err != nil {
					b.Fatal(err)
				}
				<-r.Done()
				elapsed := time.Since(began)
				restore()
				if st := r.Stats(); st.Hits != uint64(ops) {
					b.Fatalf("%d of %d reads hit (misses %d, errors %d): the preload should cover the key space", st.Hits, ops, st.Misses, st.Errors)
				}
				r.Stop()
				ours := float64(ops) / elapsed.Seconds()
				b.Logf("round %d: valkey-benchmark %.0f GET/s, reader (%s) %.0f reads/s, ratio %.2f", i, vb, client, ours, ours/vb)
				vbSum += vb
				oursSum += ours
			}
			b.ReportMetric(vbSum/float64(b.N), "vb-get/s")
			b.ReportMetric(oursSum/float64(b.N), "reads/s")
			b.ReportMetric(oursSum/vbSum, "ratio")
		})
	}
}
