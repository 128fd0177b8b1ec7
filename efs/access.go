package efs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/hanwen/go-fuse/v2/fuse"
)

func init() {
	configKeys["access_point_uid"] = "enforce an access point's POSIX user: every request acts as this uid/gid (1000)"
}

// permissionOptions are the mount options that decide whose permissions
// apply. Without an access point, EFS (NFS with AUTH_SYS) checks each
// caller's uid and gid against the files' owners and modes: the kernel
// does the same with default_permissions. An access point with a POSIX
// user replaces every caller's identity by its own, so the caller's is
// never checked: the daemon, root, acts and gives what it creates to the
// access point's user.
func permissionOptions(cfg Config) []string {
	if cfg.AccessPointUID != nil || os.Geteuid() != 0 {
		return nil // not root: the mount is the caller's own anyway
	}
	return []string{"default_permissions"}
}

// ownByAccessPoint gives a file or directory just created to the access
// point's user, as EFS records the enforced identity as its owner.
func (f *FS) ownByAccessPoint(rel string, attr *fuse.Attr) {
	uid := f.cfg.AccessPointUID
	if uid == nil {
		return
	}
	if err := os.Lchown(filepath.Join(f.src, rel), *uid, *uid); err == nil {
		attr.Owner = fuse.Owner{Uid: uint32(*uid), Gid: uint32(*uid)}
	}
}

func parseUID(s string) (*int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 || v > 65534 {
		return nil, fmt.Errorf("want a uid from 0 to 65534 (the module's access point uses 1000)")
	}
	return &v, nil
}
