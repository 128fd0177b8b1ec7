package ecstwin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/trigpointing/valkey-chaos/internal/ecstwin"
	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
	"github.com/trigpointing/valkey-chaos/valkeyconn/valkeyconntest"
)

const (
	secretARN       = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:"
	harnessPassword = "harness-pw-from-the-twins-secrets"
)

// moduleContainer is terraform/modules/valkey's container with the
// harness user and TLS from secrets, as a terraform test renders it.
func moduleContainer(t *testing.T) ecstwin.ContainerDefinition {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "terraform", "testdata", "valkey-container-auth-tls.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cd ecstwin.ContainerDefinition
	if err := json.Unmarshal(b, &cd); err != nil {
		t.Fatal(err)
	}
	i := slices.Index(cd.Command, "--save")
	cd.Command[i+1] = "3600 1"
	return cd
}

func moduleSecrets(t *testing.T, certs valkeyconntest.Certs) map[string]string {
	t.Helper()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	return map[string]string{
		secretARN + "app-AbCdEf":     "app-pw",
		secretARN + "harness-AbCdEf": `{"password": "` + harnessPassword + `"}`,
		secretARN + "cert-AbCdEf":    read(certs.CertFile),
		secretARN + "key-AbCdEf":     read(certs.KeyFile),
	}
}

// The module's container, run by the twin: the agent's part (secrets into
// the environment, a JSON key picked) and the image's (the start-up script
// writes the TLS files and adds the ACL users) make a TLS-only server whose
// harness user is the module's; DescribeTaskDefinition shows secrets by
// ARN, never their values.
func TestTaskContainerRunsTheModulesStartUpWithResolvedSecrets(t *testing.T) {
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	tlsCfg, err := valkeyconn.TLSConfig(certs.CAPEM, valkeyconntest.ServerName)
	if err != nil {
		t.Fatal(err)
	}
	cd := moduleContainer(t)
	cd.Secrets["VALKEY_HARNESS_PASSWORD"] = secretARN + "harness-AbCdEf:password::"
	_, c := startTwin(t, ecstwin.Config{TaskContainer: &cd, SecretValues: moduleSecrets(t, certs),
		Security: local.Security{Client: valkeyconn.Settings{TLS: tlsCfg}}})
	ctx := ctxT(t)

	td, err := c.ecs.DescribeTaskDefinition(ctx, &awsecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("valkey")})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(td.TaskDefinition)
	if strings.Contains(string(raw), harnessPassword) || strings.Contains(string(raw), "PRIVATE KEY") {
		t.Errorf("DescribeTaskDefinition shows a secret's value")
	}
	got := map[string]string{}
	for _, s := range td.TaskDefinition.ContainerDefinitions[0].Secrets {
		got[aws.ToString(s.Name)] = aws.ToString(s.ValueFrom)
	}
	if got["VALKEY_HARNESS_PASSWORD"] != secretARN+"harness-AbCdEf:password::" || len(got) != 4 {
		t.Errorf("task definition secrets %v, want the container's four by valueFrom", got)
	}

	ts := tasks(t, ctx, c, "")
	addr := net.JoinHostPort(aws.ToString(ts[0].Containers[0].NetworkInterfaces[0].PrivateIpv4Address), "6379")
	harness := probe.Client{Conn: valkeyconn.Settings{TLS: tlsCfg, Auth: valkeyconn.Auth{User: "valkey-chaos", Password: harnessPassword}}}
	for _, tc := range []struct {
		cl   probe.Client
		args []string
		want string
	}{
		{harness, []string{"PING"}, "PONG"},
		{harness, []string{"FLUSHALL"}, "NOPERM"},
		{harness, []string{"SET", "other:1", "x"}, "NOPERM"},
		{probe.Client{Conn: valkeyconn.Settings{TLS: tlsCfg}}, []string{"PING"}, "NOAUTH"},
	} {
		rep, err := tc.cl.Do(ctx, addr, 5*time.Second, tc.args...)
		if err != nil {
			t.Errorf("%q as %s: %v", tc.args, tc.cl.Conn, err)
			continue
		}
		if tc.want != "" && !strings.Contains(rep.String(), tc.want) {
			t.Errorf("%q as %s = %s, want %s", tc.args, tc.cl.Conn, rep, tc.want)
		}
	}
	if rep, err := harness.Do(ctx, addr, 5*time.Second, "CONFIG", "GET", "notify-keyspace-events"); err != nil || len(rep.Array) != 2 || !probe.HasNotifyFlags(rep.Array[1].Str) {
		t.Errorf("notify-keyspace-events %v (%v): the module's command sets the harness's key events", rep, err)
	}
	if rep, err := (probe.Client{}).Do(ctx, addr, time.Second, "PING"); err == nil && !rep.IsError() {
		t.Errorf("plaintext PING answered %s: the task must serve TLS only", rep)
	}
}

// A secret the twin's Secrets Manager does not hold fails the task before
// its container starts, with ECS's reason naming the ARN.
func TestTaskContainerWithAnUnknownSecretFailsToStart(t *testing.T) {
	certs := valkeyconntest.NewCerts(t, t.TempDir())
	cd := moduleContainer(t)
	secrets := moduleSecrets(t, certs)
	delete(secrets, secretARN+"key-AbCdEf")
	cfg := ecstwin.Config{TaskContainer: &cd, SecretValues: secrets, WorkDir: t.TempDir(), Save: "3600 1", ProvisionDelay: 100 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tw, err := ecstwin.Start(ctx, cfg)
	if err == nil {
		tw.Close()
		t.Fatal("the twin started a task whose secret cannot be resolved")
	}
	for _, want := range []string{"ResourceInitializationError", "ResourceNotFoundException", secretARN + "key-AbCdEf"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestTaskContainerConfigErrors(t *testing.T) {
	cd := func(mut func(*ecstwin.ContainerDefinition)) *ecstwin.ContainerDefinition {
		c := ecstwin.ContainerDefinition{Command: []string{"--save", "3600 1"}}
		if mut != nil {
			mut(&c)
		}
		return &c
	}
	for _, tc := range []struct {
		name string
		cfg  ecstwin.Config
		want string
	}{
		{"no command", ecstwin.Config{TaskContainer: cd(func(c *ecstwin.ContainerDefinition) { c.Command = nil })}, "no command"},
		{"no --save", ecstwin.Config{TaskContainer: cd(func(c *ecstwin.ContainerDefinition) { c.Command = []string{"--port", "6379"} })}, "no --save"},
		{"two save rules", ecstwin.Config{TaskContainer: cd(nil), Save: "60 1"}, "give the rules once"},
		{"host ports", ecstwin.Config{TaskContainer: cd(nil), HostPortBinding: true}, "HostPortBinding"},
		{"twin-side users", ecstwin.Config{TaskContainer: cd(nil), Security: local.Security{RequirePass: "x"}}, "secrets and environment"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.WorkDir = t.TempDir()
			tw, err := ecstwin.Start(context.Background(), tc.cfg)
			if err == nil {
				tw.Close()
				t.Fatal("started")
			}
			if !errors.Is(err, result.ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want bad input mentioning %q", err, tc.want)
			}
		})
	}
}
