// Package procstat reads the harness's own resource use from the kernel, for
// the result's harness section (issue 16: harness.peak_rss_bytes).
package procstat

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// PeakRSS returns the process's peak resident set size in bytes: VmHWM from
// /proc/self/status, the kernel's high-water mark of resident memory since
// the process started (it includes memory the Go runtime has since
// returned, which is the point: it is what the machine had to provide).
func PeakRSS() (int64, error) {
	return statusBytes("/proc/self/status", "VmHWM:")
}

// CurrentRSS returns the resident set size now (VmRSS).
func CurrentRSS() (int64, error) {
	return statusBytes("/proc/self/status", "VmRSS:")
}

// statusBytes reads a "Name:   123 kB" line of a /proc status file.
func statusBytes(path, field string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte(field))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("%s: unexpected %s line %q", path, field, sc.Text())
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s %q: %w", path, field, f[0], err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("%s: no %s line (not Linux?)", path, field)
}
