package check_test

import (
	"context"
	"testing"

	"github.com/trigpointing/valkey-chaos/check"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// A run's cleanup removes its own keys and nothing else, even when the run
// id holds SCAN pattern characters that would match other keys.
func TestDeletePrefixRemovesOnlyTheRunsKeys(t *testing.T) {
	srv := startServer(t, t.TempDir(), 0, "", "")
	addr := srv.Addr()
	ours := []string{"vc:a*.0:w:1", "vc:a*.0:d:7", "vc:a*.0:marker"}
	others := []string{"vc:abc.0:w:1", "vc:a1.0:d:2", "user:1", "vc:a*.1:w:1"}
	for _, k := range append(append([]string{}, ours...), others...) {
		do(t, addr, "SET", k, "v")
	}
	n, err := check.DeletePrefix(context.Background(), valkeyconn.Settings{}, addr, "vc:a*.0:")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(ours) {
		t.Errorf("deleted %d keys, want the run's %d", n, len(ours))
	}
	for _, k := range ours {
		if r := do(t, addr, "EXISTS", k); r.Int != 0 {
			t.Errorf("%s survived the cleanup", k)
		}
	}
	for _, k := range others {
		if r := do(t, addr, "EXISTS", k); r.Int != 1 {
			t.Errorf("%s, not the run's, was deleted", k)
		}
	}
	if _, err := check.DeletePrefix(context.Background(), valkeyconn.Settings{}, addr, ""); err == nil {
		t.Error("an empty prefix was accepted: it would delete every key")
	}
}
