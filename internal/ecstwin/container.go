package ecstwin

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/trigpointing/valkey-chaos/result"
)

// ContainerDefinition is the Valkey container of the task definition, as
// terraform/modules/valkey writes it: its command, environment and
// secrets. With Config.TaskContainer set, the twin starts each task the
// way the ECS agent and the image do: the agent resolves every secret's
// valueFrom into an environment variable at task start (a secret it
// cannot resolve fails the task, ResourceInitializationError), and the
// image runs the command (sh -c SCRIPT valkey-server ARGS for the module's
// start-up wrapper, or valkey-server ARGS when the first word is an
// option). So ACL users and TLS come from the task definition, as on
// Fargate, and the module's own script writes the TLS files and builds the
// --user arguments.
//
// As far as the twin runs commands: it has no container file system, so
// the data volume's containerPath (MountPath, default /data) is replaced
// by Config.DataDir in the command and the environment values; it adds
// --bind <the task's address> (awsvpc: the task's own ENI) and --logfile
// (the awslogs stream) after the command's arguments; valkey-server and sh
// are the host's, on PATH (Config.ServerBin only for a command that is
// bare arguments).
type ContainerDefinition struct {
	Command     []string
	Environment map[string]string
	// Secrets maps an environment variable to its valueFrom: a Secrets
	// Manager secret ARN, optionally with :json-key:version-stage:version-id.
	Secrets   map[string]string
	MountPath string // default /data
}

// Secrets Manager is unreachable here: Config.SecretValues stands in for
// it, secret ARN (without the json-key suffix) -> SecretString.

// saveRules is the value of the command's --save ("" and false when it has
// none).
func (cd *ContainerDefinition) saveRules() (string, bool) {
	i := slices.Index(cd.Command, "--save")
	if i < 0 || i+1 >= len(cd.Command) {
		return "", false
	}
	return cd.Command[i+1], true
}

func (cd *ContainerDefinition) validate(cfg *Config) error {
	switch {
	case len(cd.Command) == 0:
		return fmt.Errorf("%w: the task container has no command", result.ErrBadInput)
	case cfg.HostPortBinding || cfg.WriterLock || len(cfg.ExtraArgs) > 0 && slices.Contains(cfg.ExtraArgs, "--save"):
		return fmt.Errorf("%w: with a task container the command decides port, lock and save rules: drop HostPortBinding, WriterLock and --save in ExtraArgs", result.ErrBadInput)
	case cfg.Security.TLS != nil || len(cfg.Security.Users) > 0 || cfg.Security.RequirePass != "":
		return fmt.Errorf("%w: with a task container ACL users and TLS come from its secrets and environment: leave Security with its Client only", result.ErrBadInput)
	}
	save, ok := cd.saveRules()
	if !ok {
		return fmt.Errorf("%w: the task container's command has no --save: the twin must know the rules its tasks run", result.ErrBadInput)
	}
	if cfg.Save != "" && cfg.Save != save {
		return fmt.Errorf("%w: Config.Save %q differs from the task container's --save %q: give the rules once", result.ErrBadInput, cfg.Save, save)
	}
	cfg.Save = save
	if cd.MountPath == "" {
		cd.MountPath = "/data"
	}
	return nil
}

// process is the command and the environment a task runs with: container
// paths mapped onto the data dir, secrets resolved. The error is the
// reason ECS stops such a task.
func (tw *Twin) containerProcess() (command, env []string, err error) {
	cd := tw.cfg.TaskContainer
	remap := func(s string) string { return strings.ReplaceAll(s, cd.MountPath, tw.cfg.DataDir) }
	for _, a := range cd.Command {
		command = append(command, remap(a))
	}
	for _, k := range sortedKeys(cd.Environment) {
		env = append(env, k+"="+remap(cd.Environment[k]))
	}
	for _, k := range sortedKeys(cd.Secrets) {
		v, err := tw.resolveSecret(cd.Secrets[k])
		if err != nil {
			return nil, nil, fmt.Errorf("ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: %w", err)
		}
		env = append(env, k+"="+v)
	}
	return command, env, nil
}

// resolveSecret is what the ECS agent fetches for a valueFrom:
// arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME[:JSON-KEY:STAGE:ID];
// a JSON key picks that field of the secret's JSON.
func (tw *Twin) resolveSecret(valueFrom string) (string, error) {
	parts := strings.Split(valueFrom, ":")
	if len(parts) < 7 || parts[2] != "secretsmanager" {
		return "", fmt.Errorf("invalid secret valueFrom %q: want a Secrets Manager secret ARN", valueFrom)
	}
	arn := strings.Join(parts[:7], ":")
	s, ok := tw.cfg.SecretValues[arn]
	if !ok {
		return "", fmt.Errorf("failed to fetch secret %s from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret", arn)
	}
	if len(parts) < 8 || parts[7] == "" {
		return s, nil
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(s), &fields); err != nil {
		return "", fmt.Errorf("secret %s is not JSON, so it has no key %q", arn, parts[7])
	}
	v, ok := fields[parts[7]].(string)
	if !ok {
		return "", fmt.Errorf("retrieved secret from Secrets Manager did not contain json key %s", parts[7])
	}
	return v, nil
}

// wire is the container's environment and secrets as
// DescribeTaskDefinition shows them: values of secrets never appear.
func (cd *ContainerDefinition) wire() ([]wireKeyValue, []wireSecret) {
	var env []wireKeyValue
	for _, k := range sortedKeys(cd.Environment) {
		env = append(env, wireKeyValue{Name: k, Value: cd.Environment[k]})
	}
	var secrets []wireSecret
	for _, k := range sortedKeys(cd.Secrets) {
		secrets = append(secrets, wireSecret{Name: k, ValueFrom: cd.Secrets[k]})
	}
	return env, secrets
}

type wireSecret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
