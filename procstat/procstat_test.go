package procstat

import (
	"syscall"
	"testing"
)

// The peak follows memory the process actually touched, and agrees with the
// kernel's other account of it, getrusage's ru_maxrss.
func TestPeakRSSFollowsTouchedMemory(t *testing.T) {
	before, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := CurrentRSS()
	if err != nil {
		t.Fatal(err)
	}
	const grow = 128 << 20
	buf := make([]byte, cur+grow) // above the old peak once touched
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	after, err := PeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	if after < int64(len(buf)) {
		t.Errorf("peak RSS %d B after touching %d B", after, len(buf))
	}
	if after < before {
		t.Errorf("peak RSS fell from %d to %d", before, after)
	}
	maxrss := ru.Maxrss << 10
	// The two are kept by different kernel paths (the mm's high-water mark,
	// the task's rusage), so they agree within a few pages, not exactly.
	if d := maxrss - after; d < -8<<20 || d > 8<<20 {
		t.Errorf("VmHWM %d B, ru_maxrss %d B: differ by %d B", after, maxrss, d)
	}
	_ = buf[len(buf)-1]
}

func TestStatusBytesRejectsBadLines(t *testing.T) {
	if _, err := statusBytes("/proc/self/status", "NoSuchField:"); err == nil {
		t.Error("a missing field read without error")
	}
	if _, err := statusBytes("/nonexistent/status", "VmHWM:"); err == nil {
		t.Error("a missing file read without error")
	}
}
