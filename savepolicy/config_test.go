package savepolicy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// configCases are valkey.conf texts and the rules Valkey 8 runs with;
// TestConfigFileMatchesValkey checks each against a real server.
var configCases = []struct {
	name, conf, want string
	bad              bool // Valkey refuses to start
}{
	{"one line", "save 900 1\n", "900 1", false},
	{"lines accumulate", "save 900 1\nsave 60 10000\n", "900 1 60 10000", false},
	{"several pairs on a line", "save 900 1 300 10\n", "900 1 300 10", false},
	{"empty resets", "save 900 1\nsave \"\"\nsave 60 100\n", "60 100", false},
	{"empty last disables", "save 900 1\nsave \"\"\n", "", false},
	{"bare save clears the defaults", "save\n", "", false},
	{"quoted pairs split", "save \"900 1 300 10\"\n", "900 1 300 10", false},
	{"single quotes", "save '30 5'\n", "30 5", false},
	{"case and blanks", "  SAVE   5 0  \n", "5 0", false},
	{"no save line: defaults", "# nothing\nappendonly no\n", ServerDefault, false},
	{"comments and other directives", "# save 1 1\nmaxmemory 100mb\nsave 120 7\n", "120 7", false},
	{"inline comment", "save 60 1 # comment\n", "", true},
	{"odd count", "save 900\n", "", true},
	{"negative", "save 60 -1\n", "", true},
	{"hex", "save 0x10 1\n", "", true},
	{"unbalanced quote", "save \"60 1\n", "", true},
}

func TestFromConfigFile(t *testing.T) {
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "valkey.conf")
			if err := os.WriteFile(path, []byte(tc.conf), 0o644); err != nil {
				t.Fatal(err)
			}
			rules, err := FromConfigFile(path)
			if tc.bad {
				if err == nil || !errors.Is(err, result.ErrBadInput) {
					t.Fatalf("got %q, %v; want a bad-input error", rules, err)
				}
				if !strings.Contains(err.Error(), "valkey.conf:") || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %q: want one line naming file and line", err)
				}
				return
			}
			if err != nil || rules.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", rules, err, tc.want)
			}
		})
	}
}

// TestConfigFileMatchesValkey uses valkey-server itself as the oracle: it
// loads each config and reports CONFIG GET save, or refuses to start.
func TestConfigFileMatchesValkey(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server per case")
	}
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			addr, refused := startValkeyConfig(t, tc.conf)
			if tc.bad {
				if addr != "" {
					t.Fatalf("valkey-server accepted %q, the test expects it to refuse", tc.conf)
				}
				return
			}
			if addr == "" {
				t.Fatalf("valkey-server refused %q: %s", tc.conf, refused)
			}
			live, err := FromServer(context.Background(), valkeyconn.Settings{}, addr)
			if err != nil {
				t.Fatal(err)
			}
			if live.String() != tc.want {
				t.Fatalf("valkey-server runs %q with this config, the test expects %q", live, tc.want)
			}
		})
	}
}

func TestConfigFileIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("valkey.conf", "save 600 1\ninclude conf.d/*.conf\nsave 30 100000\n")
	write("conf.d/a.conf", "save 60 1000\n")
	write("loop.conf", "include loop.conf\n")
	write("missing.conf", "include nowhere.conf\n")

	rules, err := FromConfigFile(filepath.Join(dir, "valkey.conf"))
	if err != nil || rules.String() != "600 1 60 1000 30 100000" {
		t.Fatalf("with include: %q, %v; want the included line in place", rules, err)
	}
	for _, name := range []string{"loop.conf", "missing.conf", "absent.conf"} {
		if _, err := FromConfigFile(filepath.Join(dir, name)); err == nil || !errors.Is(err, result.ErrBadInput) {
			t.Errorf("%s: %v, want a bad-input error", name, err)
		}
	}
}

func TestSplitArgsLikeValkey(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		bad  bool
	}{
		{`save 900 1`, []string{"save", "900", "1"}, false},
		{`save ""`, []string{"save", ""}, false},
		{`a "b c" 'd e'`, []string{"a", "b c", "d e"}, false},
		{`"\x41\n" 'it\'s'`, []string{"A\n", "it's"}, false},
		{`"open`, nil, true},
		{`"closed"x`, nil, true},
	}
	for _, tc := range tests {
		got, err := splitArgs(tc.in)
		if tc.bad != (err != nil) || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("splitArgs(%q) = %q, %v; want %q bad=%v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
