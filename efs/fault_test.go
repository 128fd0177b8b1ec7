package efs

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFaultMatching(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
		op    Op
		paths []string
		want  bool
	}{
		{"glob on the base name", Fault{Kind: EIO, PathGlob: "temp-*.rdb"}, OpWrite, []string{"data/temp-123.rdb"}, true},
		{"glob on the base name misses", Fault{Kind: EIO, PathGlob: "temp-*.rdb"}, OpWrite, []string{"dump.rdb"}, false},
		{"glob with a slash matches the whole path", Fault{Kind: EIO, PathGlob: "data/*.rdb"}, OpRead, []string{"data/dump.rdb"}, true},
		{"glob with a slash misses other directories", Fault{Kind: EIO, PathGlob: "data/*.rdb"}, OpRead, []string{"other/dump.rdb"}, false},
		{"no glob matches everything", Fault{Kind: Stall}, OpFsync, []string{"x/y"}, true},
		{"listed ops only", Fault{Kind: EIO, Ops: []Op{OpWrite}}, OpRead, []string{"dump.rdb"}, false},
		{"rename matches on the target", Fault{Kind: Torn, PathGlob: "dump.rdb"}, OpRename, []string{"temp-1.rdb", "dump.rdb"}, true},
		{"enospc defaults to write, fsync, create", Fault{Kind: ENOSPC}, OpRead, []string{"dump.rdb"}, false},
		{"slow defaults to reads", Fault{Kind: Slow, SlowMiBps: 1}, OpRead, []string{"dump.rdb"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := tt.fault.normalize()
			if err != nil {
				t.Fatal(err)
			}
			if got := f.matches(tt.op, tt.paths...); got != tt.want {
				t.Errorf("%s matches %s %v = %v, want %v", f, tt.op, tt.paths, got, tt.want)
			}
		})
	}
}

func TestFaultValidation(t *testing.T) {
	tests := []struct {
		fault  Fault
		errHas string
	}{
		{Fault{Kind: "gremlins"}, "unknown storage fault"},
		{Fault{Kind: EIO, PathGlob: "[x"}, "bad path glob"},
		{Fault{Kind: EIO, Ops: []Op{"chmod"}}, "unknown operation"},
		{Fault{Kind: Slow}, "needs a rate"},
		{Fault{Kind: Slow, SlowMiBps: 1, Ops: []Op{OpFsync}}, "read and write"},
		{Fault{Kind: Torn, Ops: []Op{OpWrite}}, "rename only"},
		{Fault{Kind: Torn, TornKeep: 1.5}, "fraction"},
	}
	for _, tt := range tests {
		if _, err := tt.fault.normalize(); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%+v: error %v, want one mentioning %q", tt.fault, err, tt.errHas)
		}
	}
	if _, err := ParseOps("write, fsync,rename"); err != nil {
		t.Errorf("ParseOps: %v", err)
	}
	if _, err := ParseOps("write,truncate"); err == nil {
		t.Errorf("ParseOps accepted truncate")
	}
}

func TestGateStallsUntilLiftedOrClosed(t *testing.T) {
	tests := []struct {
		name    string
		release func(s *faultSet, id int, closing chan struct{}, cancel context.CancelFunc)
		want    syscall.Errno
	}{
		{"lift lets the operation through", func(s *faultSet, id int, _ chan struct{}, _ context.CancelFunc) { s.lift(id) }, 0},
		{"unmount fails it with EIO", func(_ *faultSet, _ int, closing chan struct{}, _ context.CancelFunc) { close(closing) }, syscall.EIO},
		{"an interrupted caller gets EINTR", func(_ *faultSet, _ int, _ chan struct{}, cancel context.CancelFunc) { cancel() }, syscall.EINTR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closing := make(chan struct{})
			s := newFaultSet(closing)
			id, err := s.inject(Fault{Kind: Stall, PathGlob: "temp-*.rdb"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if errno := s.gate(context.Background(), OpWrite, "dump.rdb"); errno != 0 {
				t.Fatalf("an unmatched path was held: %v", errno)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			result := make(chan syscall.Errno, 1)
			go func() { result <- s.gate(ctx, OpWrite, "temp-9.rdb") }()
			select {
			case errno := <-result:
				t.Fatalf("stalled operation returned %v before release", errno)
			case <-time.After(100 * time.Millisecond):
			}
			tt.release(s, id, closing, cancel)
			select {
			case errno := <-result:
				if errno != tt.want {
					t.Errorf("released operation returned %v, want %v", errno, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("stalled operation still blocked after release")
			}
		})
	}
}
