package savepolicy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// maxIncludeDepth stops include loops in valkey.conf.
const maxIncludeDepth = 8

// saveConfig applies `save` lines the way Valkey's config loader does
// (config.c setConfigSaveOption, checked against valkey-server 8.0.1):
// the built-in defaults stand until the first save line, which clears them;
// later lines append; `save ""` clears everything so far.
type saveConfig struct {
	rules  Rules
	loaded bool
}

// apply takes the arguments of one save line; where names it in errors.
func (c *saveConfig) apply(args []string, where string) error {
	reset := false
	switch {
	case len(args) == 1 && args[0] == "":
		reset, args = true, nil
	case len(args) == 1:
		// A single argument holding several numbers: Valkey splits it
		// (that is how --save "900 1 300 10" arrives).
		args = strings.Fields(args[0])
	}
	rules, err := parseFields(strings.Join(args, " "), args)
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if reset || !c.loaded {
		c.rules = nil
	}
	c.loaded = true
	c.rules = append(c.rules, rules...)
	return nil
}

// result is the rules in force: the server's defaults when no line set any.
func (c *saveConfig) result() Rules {
	if !c.loaded {
		rules, _ := Parse(ServerDefault)
		return rules
	}
	if c.rules == nil {
		return Rules{}
	}
	return c.rules
}

// FromConfigFile reads the save rules a valkey.conf configures: every save
// line in order, includes followed (relative paths from the including
// file's directory), Valkey's defaults when there are none. Errors unwrap to
// result.ErrBadInput and name the file and line.
func FromConfigFile(path string) (Rules, error) {
	var c saveConfig
	if err := c.readFile(path, 0); err != nil {
		return nil, err
	}
	return c.result(), nil
}

func (c *saveConfig) readFile(path string, depth int) error {
	if depth > maxIncludeDepth {
		return badInput("config file %s: includes nest deeper than %d: is there an include loop?", path, maxIncludeDepth)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return badInput("config file %s not found: pass the valkey.conf the server runs with", path)
		}
		return badInput("config file %s: %v", path, err)
	}
	return c.readConfig(data, path, func(pattern string) error {
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(filepath.Dir(path), pattern)
		}
		matches, err := filepath.Glob(pattern)
		if err != nil || len(matches) == 0 {
			if strings.ContainsAny(pattern, "*?[") {
				return nil // Valkey skips a glob that matches nothing
			}
			matches = []string{pattern}
		}
		for _, m := range matches {
			if err := c.readFile(m, depth+1); err != nil {
				return err
			}
		}
		return nil
	})
}

// readConfig applies the save lines of one config file's text; include is
// called for `include` lines (nil: includes are an error).
func (c *saveConfig) readConfig(data []byte, name string, include func(string) error) error {
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.Trim(line, " \t\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, i+1)
		args, err := splitArgs(line)
		if err != nil {
			return badInput("%s: %v (Valkey refuses to start on this line)", where, err)
		}
		if len(args) == 0 {
			continue
		}
		switch strings.ToLower(args[0]) {
		case "save":
			if err := c.apply(args[1:], where); err != nil {
				return err
			}
		case "include":
			if len(args) != 2 {
				return badInput("%s: include takes one path", where)
			}
			if include == nil {
				return badInput("%s: include %s cannot be followed here", where, args[1])
			}
			if err := include(args[1]); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitArgs tokenises a config line as Valkey's sdssplitargs does: blanks
// separate words, "double quotes" take \n \r \t \b \a \\ \" and \xHH escapes,
// 'single quotes' take \', and a closing quote must end the word.
func splitArgs(line string) ([]string, error) {
	var args []string
	i, n := 0, len(line)
	isSpace := func(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f' }
	for {
		for i < n && isSpace(line[i]) {
			i++
		}
		if i >= n {
			return args, nil
		}
		var cur strings.Builder
		inDouble, inSingle := false, false
		for done := false; !done; {
			switch {
			case inDouble:
				if i >= n {
					return nil, errors.New("unbalanced quotes")
				}
				switch {
				case line[i] == '\\' && i+3 < n && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]):
					cur.WriteByte(hexVal(line[i+2])<<4 | hexVal(line[i+3]))
					i += 3
				case line[i] == '\\' && i+1 < n:
					i++
					cur.WriteByte(unescape(line[i]))
				case line[i] == '"':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				default:
					cur.WriteByte(line[i])
				}
			case inSingle:
				if i >= n {
					return nil, errors.New("unbalanced quotes")
				}
				switch {
				case line[i] == '\\' && i+1 < n && line[i+1] == '\'':
					i++
					cur.WriteByte('\'')
				case line[i] == '\'':
					if i+1 < n && !isSpace(line[i+1]) {
						return nil, errors.New("closing quote must be followed by a space")
					}
					done = true
				default:
					cur.WriteByte(line[i])
				}
			default:
				if i >= n {
					done = true
					break
				}
				switch line[i] {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inDouble = true
				case '\'':
					inSingle = true
				default:
					cur.WriteByte(line[i])
				}
			}
			if i < n {
				i++
			}
		}
		args = append(args, cur.String())
	}
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func hexVal(b byte) byte {
	switch {
	case b >= '0' && b <= '9':
		return b - '0'
	case b >= 'a' && b <= 'f':
		return b - 'a' + 10
	}
	return b - 'A' + 10
}

func unescape(b byte) byte {
	switch b {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return b
}

// RuleSource names where save rules come from; at most one of Save (when
// SaveSet), Terraform, Addr and Config may be given, and none means Default.
type RuleSource struct {
	Save      string
	SaveSet   bool
	Terraform string // module directory
	// ReadTerraform reads a module's rules (tfmodule.SaveRules), given by
	// the caller so that HCL stays out of this package.
	ReadTerraform func(dir string) (Rules, error)
	Addr          string              // live server host:port
	Conn          valkeyconn.Settings // how to connect to Addr
	Config        string              // valkey.conf
}

// Resolve reads the rules from the one source given, and says which it was.
func (s RuleSource) Resolve(ctx context.Context) (Rules, string, error) {
	var given []string
	for _, g := range []struct {
		set  bool
		name string
	}{{s.SaveSet, "--save"}, {s.Terraform != "", "--terraform"}, {s.Addr != "", "--addr"}, {s.Config != "", "--config"}} {
		if g.set {
			given = append(given, g.name)
		}
	}
	if len(given) > 1 {
		return nil, "", badInput("save rules from %s: give only one of them", strings.Join(given, " and "))
	}
	var rules Rules
	var err error
	from := ""
	switch {
	case s.Terraform != "" && s.ReadTerraform == nil:
		return nil, "", errors.New("save rules from --terraform: no Terraform reader given")
	case s.Terraform != "":
		rules, err = s.ReadTerraform(s.Terraform)
		from = "terraform " + s.Terraform
	case s.Addr != "":
		rules, err = FromServer(ctx, s.Conn, s.Addr)
		from = "CONFIG GET save on " + s.Addr
	case s.Config != "":
		rules, err = FromConfigFile(s.Config)
		from = "config " + s.Config
	case s.SaveSet:
		rules, err = Parse(s.Save)
		from = "--save"
	default:
		rules, err = Parse(Default)
		from = "default"
	}
	if err != nil {
		return nil, "", err
	}
	return rules, from, nil
}
