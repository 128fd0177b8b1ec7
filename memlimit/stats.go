package memlimit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats are the kernel's memory figures for a group, in bytes.
type Stats struct {
	Limit int64
	// Current is the memory charged now (anonymous memory, page cache of
	// the files the processes wrote, kernel memory).
	Current int64
	// Peak is the highest Current since the group was created (v1
	// memory.max_usage_in_bytes, v2 memory.peak); it includes page cache,
	// e.g. of the RDB file being written.
	Peak int64
	// Anon is the anonymous memory now (v1 memory.stat rss, v2 anon): the
	// dataset and the pages copy-on-write duplicated. The kernel keeps no
	// peak of it; sample it (Sampler) for one.
	Anon int64
	// OOMKills counts processes the kernel killed for exceeding the limit
	// (v1 memory.oom_control oom_kill, v2 memory.events oom_kill).
	OOMKills int64
}

// Stats reads the group's current figures.
func (g *Group) Stats() (Stats, error) {
	s := Stats{Limit: g.limit}
	var err error
	read := func(file string, dst *int64) {
		if err == nil {
			*dst, err = readInt(filepath.Join(g.dir, file))
		}
	}
	switch g.h.Version {
	case V1:
		read("memory.usage_in_bytes", &s.Current)
		read("memory.max_usage_in_bytes", &s.Peak)
		if err == nil {
			s.Anon, err = readKey(filepath.Join(g.dir, "memory.stat"), "rss")
		}
		if err == nil {
			s.OOMKills, err = readKey(filepath.Join(g.dir, "memory.oom_control"), "oom_kill")
		}
	case V2:
		read("memory.current", &s.Current)
		read("memory.peak", &s.Peak)
		if err == nil {
			s.Anon, err = readKey(filepath.Join(g.dir, "memory.stat"), "anon")
		}
		if err == nil {
			s.OOMKills, err = readKey(filepath.Join(g.dir, "memory.events"), "oom_kill")
		}
	}
	if err != nil {
		return s, fmt.Errorf("cgroup %s: %w", g.Name(), err)
	}
	return s, nil
}

func readInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	v := strings.TrimSpace(string(data))
	if v == "max" {
		return -1, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s %q: %w", filepath.Base(path), v, err)
	}
	return n, nil
}

// readKey reads the value of "key value" in a flat keyed file.
func readKey(path, key string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", filepath.Base(path), err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %s %s %q: %w", filepath.Base(path), key, f[1], err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("%s has no %q line", filepath.Base(path), key)
}
