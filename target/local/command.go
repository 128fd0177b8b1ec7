package local

import (
	"fmt"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// spawnCommand starts cfg.Command (see ServerConfig.Command).
func spawnCommand(cfg ServerConfig, bin string) (*Server, error) {
	if len(cfg.Command) == 0 || cfg.Save != "" || cfg.WriterLock != "" || cfg.Security.TLS != nil || len(cfg.Security.Users) > 0 || cfg.Security.RequirePass != "" {
		return nil, fmt.Errorf("%w: a container command runs as given: no Save, WriterLock or server Security beside it", result.ErrBadInput)
	}
	args := append([]string(nil), cfg.Command...)
	if strings.HasPrefix(args[0], "-") {
		args = append([]string{bin}, args...)
	}
	args = append(args, "--bind", cfg.Host)
	if cfg.LogFile != "" {
		args = append(args, "--logfile", cfg.LogFile)
	}
	args = append(args, cfg.ExtraArgs...)
	cmd, err := serverCommand(cfg, args[0], args[1:])
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env, cfg.Env...)
	return start(cfg, cmd, args[0])
}
