package savepolicy

import "testing"

func TestRulesFromCommand(t *testing.T) {
	tests := []struct {
		args  []string
		want  string
		found bool
	}{
		{[]string{"valkey-server", "--save", "60 100"}, "60 100", true},
		{[]string{"valkey-server", "--save", "60", "100", "--save", "10", "5000"}, "60 100 10 5000", true},
		{[]string{"valkey-server", "--save", ""}, "", true},
		{[]string{"valkey-server", "--save", "--appendonly", "no"}, "", true},
		{[]string{"--save", "900 1", "--save", "", "--save", "30 7"}, "30 7", true},
		{[]string{"valkey-server", "--dir", "/data"}, "", false},
		{[]string{"sh", "-c", "exec valkey-server --save '60 1' --dir /data"}, "60 1", true},
	}
	for _, tc := range tests {
		rules, found, err := FromCommand(tc.args)
		if err != nil || found != tc.found || (found && rules.String() != tc.want) {
			t.Errorf("%q: %q found=%v %v; want %q found=%v", tc.args, rules, found, err, tc.want, tc.found)
		}
	}
}
