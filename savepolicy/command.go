package savepolicy

import (
	"errors"
	"slices"
	"strings"
)

// UnknownArg stands for a command element only known at apply time (a
// Terraform variable without a default): FromCommand refuses it.
const UnknownArg = "\x00unknown"

// FromCommand applies a valkey-server command line's --save options:
// each "--name" starts a config line that takes the arguments up to the next
// "--", exactly as Valkey turns its argv into config lines. A shell form
// (sh -c "valkey-server --save '...'") is split first. found is false when
// no --save appears.
func FromCommand(args []string) (Rules, bool, error) {
	hasSave := false
	for _, a := range args {
		hasSave = hasSave || a == "--save"
	}
	if !hasSave {
		for _, a := range args {
			if !strings.Contains(a, "--save") {
				continue
			}
			// Descend only when the string holds a --save word, so the
			// recursion always ends (it then takes the branch above).
			if tokens, err := splitArgs(a); err == nil && slices.Contains(tokens, "--save") {
				return FromCommand(tokens)
			}
		}
		return nil, false, nil
	}
	var c saveConfig
	var line []string
	inSave := false
	flush := func() error {
		if !inSave {
			return nil
		}
		for _, a := range line {
			if a == UnknownArg {
				return errors.New("the --save argument depends on a value only known at apply time (a variable without a default, or a resource attribute): give it a default or pass --save")
			}
		}
		if len(line) == 0 {
			line = []string{""} // "--save" alone: Valkey reads it as save ""
		}
		return c.apply(line, "--save")
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--") {
			if err := flush(); err != nil {
				return nil, false, err
			}
			inSave, line = a == "--save", nil
			continue
		}
		if inSave {
			line = append(line, a)
		}
	}
	if err := flush(); err != nil {
		return nil, false, err
	}
	return c.result(), true, nil
}
