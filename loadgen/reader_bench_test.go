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
// returns valkey-benchmark's GET rate over them (all hits) and its CPU per
// GET, on CPU 1.
func valkeyBenchmarkGet(b *testing.B, port, conns, ops, keyspace, valueSize int) (rate, cpuPerOp float64) {
	b.Helper()
	run := func(test string, n int) ([]byte, time.Duration) {
		args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", test, "-q", "-P", "1",
			"-c", strconv.Itoa(conns), "-n", strconv.Itoa(n), "-d", strconv.Itoa(valueSize), "-r", strconv.Itoa(keyspace)}
		name := "valkey-benchmark"
		if runtime.NumCPU() >= 2 && *benchPin {
			args = append([]string{"-c", "1", name}, args...)
			name = "taskset"
		}
		cmd := exec.Command(name, args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("valkey-benchmark -t %s: %v: %s", test, err, out)
		}
		return out, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime() // taskset execs it: same process
	}
	run("set", keyspace*4) // -r draws at random: 4x covers nearly all keys
	out, cpu := run("get", ops)
	m := vbGetRate.FindSubmatch(out)
	if m == nil {
		b.Fatal("no GET rate in valkey-benchmark output")
	}
	rate, _ = strconv.ParseFloat(string(m[1]), 64)
	return rate, cpu.Seconds() / float64(ops)
}

// BenchmarkReaderThroughput compares the cache-aside reader at an unlimited
// rate with valkey-benchmark GET in the same run: 4 connections, pipeline 1,
// 100 B values, every read a hit (the key space is preloaded), for both
// client settings, as medians of -loadgen.rounds alternating rounds (ABBA:
// neither side always runs on a warmer server). Pinned as the SET
// benchmark is: the server on CPU 0, both clients on CPU 1, and this
// process at GOMAXPROCS 1 there (a second P on the same CPU only spins).
//
//	go test -run '^$' -bench ReaderThroughput -benchtime 1x ./loadgen -args -loadgen.rounds 7
func BenchmarkReaderThroughput(b *testing.B) {
	const keys, conns = 100_000, 4
	for _, client := range []ReaderClient{ReaderClientDefault, ReaderClientTuned, ReaderClientRESP} {
		b.Run(string(client), func(b *testing.B) {
			srv := startServer(b)
			if *benchPin {
				defer pin(b, srv.cmd.Process.Pid, 0)()
				defer pin(b, os.Getpid(), 1)()
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			}
			ops := throughputOps() / 4
			if _, err := Preload(context.Background(), valkeyconn.Settings{}, srv.addr, "vc:rb:", keys, 100, 4); err != nil {
				b.Fatal(err)
			}
			abbaRounds(b, "GET", func(int) (float64, float64) {
				return valkeyBenchmarkGet(b, srv.port, conns, ops, 10_000, 100) // its own keys; 10k keep the fill short
			}, func(i int) (float64, float64) {
				return readerThroughput(b, srv.addr, client, keys, conns, ops, uint64(i))
			})
		})
	}
}

// readerThroughput runs the reader at an unlimited rate for ops reads and
// returns its rate and this process's CPU per read, failing unless every
// read hit.
func readerThroughput(b *testing.B, addr string, client ReaderClient, keys uint64, conns, ops int, seed uint64) (rate, cpuPerOp float64) {
	b.Helper()
	cpu := clientCPU()
	began := time.Now()
	r, err := StartReader(context.Background(), ReaderConfig{
		Addr: func() string { return addr }, Prefix: "vc:rb:", Keys: keys, Seed: seed,
		Client: client, Concurrency: conns, Pacer: ConstantPacer{Freq: math.Inf(1)},
		Base: began, MaxReads: uint64(ops), MaxDuration: 10 * time.Minute,
	})
	if err != nil {
		b.Fatal(err)
	}
	<-r.Done()
	elapsed := time.Since(began)
	if st := r.Stats(); st.Hits != uint64(ops) {
		b.Fatalf("%d of %d reads hit (misses %d, errors %d): the preload should cover the key space", st.Hits, ops, st.Misses, st.Errors)
	}
	r.Stop()
	return float64(ops) / elapsed.Seconds(), (clientCPU() - cpu) / float64(ops)
}
