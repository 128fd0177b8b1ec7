package memlimit

import "os"

// FakeHierarchy is a cgroup tree of plain files in dir, for the v2 path on a
// host whose cgroup2 mount has no memory controller.
func FakeHierarchy(dir string, v Version) Hierarchy {
	return Hierarchy{Root: dir, Version: v, rmdir: os.RemoveAll}
}

var DetectIn = detect
