package terraform

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/trigpointing/valkey-chaos/probe"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

// These tests run the Valkey container's own start-up wrapper, ACL users and
// health check, as the module renders them, against a real valkey-server:
// /data becomes a temporary directory, the secrets become environment
// variables, and everything else is the container definition.

const (
	slowLoadKeys        = 5000
	testAppPassword     = `app p@ss "word"`
	testHarnessPassword = "harness-secret-42"
)

var testSecrets = map[string]string{
	"VALKEY_APP_PASSWORD":     testAppPassword,
	"VALKEY_HARNESS_PASSWORD": testHarnessPassword,
}

// container is the Valkey container definition made runnable here.
type container struct {
	command []string
	env     []string
	health  string
	port    int
	dataDir string
}

func requireValkey(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"valkey-server", "valkey-cli", "flock"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not on PATH (scripts/setup.sh installs valkey; flock is util-linux): the container's start-up and health check cannot run", bin)
		}
	}
}

// renderContainer evaluates the module's container with overrides, on a free
// port, with /data mapped to dataDir and the secrets given as values.
func renderContainer(t *testing.T, overrides map[string]cty.Value, dataDir string, secrets map[string]string) container {
	t.Helper()
	port := freePort(t)
	in := map[string]cty.Value{"container_port": num(float64(port))}
	for k, v := range overrides {
		in[k] = v
	}
	c := valkeyContainer(t, loadModule(t, valkeyDir), in)
	remap := func(s string) string { return strings.ReplaceAll(s, "/data", dataDir) }
	out := container{port: port, dataDir: dataDir}
	for _, a := range stringList(t, c["command"]) {
		out.command = append(out.command, remap(a))
	}
	out.env = append(os.Environ(), "VALKEY_EXTRA_FLAGS=")
	for _, e := range c["environment"].([]any) {
		e := e.(map[string]any)
		out.env = append(out.env, fmt.Sprintf("%s=%s", e["name"], remap(e["value"].(string))))
	}
	for _, s := range c["secrets"].([]any) {
		name := s.(map[string]any)["name"].(string)
		v, ok := secrets[name]
		if !ok {
			t.Fatalf("container wants secret %s the test does not provide", name)
		}
		out.env = append(out.env, name+"="+v)
	}
	hc := stringList(t, c["healthCheck"].(map[string]any)["command"])
	if len(hc) != 2 || hc[0] != "CMD-SHELL" {
		t.Fatalf("health check %q: want CMD-SHELL <script>", hc)
	}
	out.health = remap(hc[1])
	return out
}

// process is one started container command and its combined output.
type process struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs the container's command the way the image's entrypoint does:
// exec of the command (sh -c SCRIPT valkey-server ARGS, or valkey-server ARGS).
func (c container) start(t *testing.T) *process {
	t.Helper()
	args := c.command
	if strings.HasPrefix(args[0], "-") {
		args = append([]string{"valkey-server"}, args...)
	}
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(args[0], args[1:]...)
	p.cmd.Env = c.env
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// healthy runs the container's health check command as ECS would.
func (c container) healthy() (bool, string) {
	cmd := exec.Command("sh", "-c", c.health)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return err == nil, string(out)
}

// cli runs valkey-cli against the container as user with password (none
// when user is ""), extra flags first.
func (c container) cli(user, password string, extra []string, args ...string) string {
	full := append([]string{"--no-auth-warning", "-h", "127.0.0.1", "-p", fmt.Sprint(c.port)}, extra...)
	if user != "" {
		full = append(full, "--user", user, "--pass", password)
	}
	out, _ := exec.Command("valkey-cli", append(full, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

func authOverrides() map[string]cty.Value {
	return map[string]cty.Value{
		"app_password_secret_arn":     cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbCdEf"),
		"harness_password_secret_arn": cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:harness-AbCdEf"),
		"app_user":                    cty.StringVal("app"),
		"writer_lock_wait":            num(130),
	}
}

func TestValkeyContainerAuthenticatesEveryClient(t *testing.T) {
	requireValkey(t)
	c := renderContainer(t, authOverrides(), t.TempDir(), testSecrets)
	p := c.start(t)
	waitFor(t, "the health check to pass", func() bool { ok, _ := c.healthy(); return ok || p.exited() })
	if p.exited() {
		t.Fatalf("container exited: %v\n%s", p.err, p.log())
	}

	if got := c.cli("", "", nil, "ping"); !strings.HasPrefix(got, "NOAUTH") {
		t.Errorf("PING without AUTH = %q, want NOAUTH", got)
	}
	if got := c.cli("default", "", nil, "ping"); !strings.Contains(got, "WRONGPASS") && !strings.Contains(got, "AUTH failed") {
		t.Errorf("the default user answers %q; with app_user = app it must be off", got)
	}
	app := func(args ...string) string { return c.cli("app", testAppPassword, nil, args...) }
	if got := app("set", "orders:1", "x"); got != "OK" {
		t.Errorf("app SET = %q", got)
	}
	for _, cmd := range [][]string{{"flushall"}, {"config", "set", "save", ""}, {"shutdown", "nosave"}, {"keys", "*"}} {
		if got := app(cmd...); !strings.HasPrefix(got, "NOPERM") {
			t.Errorf("app %q = %q, want NOPERM (dangerous commands are off for the application)", cmd, got)
		}
	}

	harness := func(args ...string) string { return c.cli("valkey-chaos", testHarnessPassword, nil, args...) }
	for _, ok := range [][]string{{"set", "vc:1", "x"}, {"get", "vc:1"}, {"dbsize"}, {"scan", "0", "match", "vc:*"}, {"bgsave"}, {"config", "get", "save"}} {
		if got := harness(ok...); strings.HasPrefix(got, "NOPERM") || strings.HasPrefix(got, "ERR") {
			t.Errorf("harness %q = %q, want it allowed", ok, got)
		}
	}
	checkHarnessKeyEvents(t, c, harness)
	if got := harness("info", "persistence"); !strings.Contains(got, "rdb_bgsave_in_progress") {
		t.Errorf("harness INFO = %q", got)
	}
	for _, denied := range [][]string{{"set", "orders:1", "y"}, {"get", "orders:1"}, {"flushall"}, {"config", "set", "save", ""}, {"shutdown", "nosave"}, {"keys", "*"}, {"acl", "list"}} {
		if got := harness(denied...); !strings.HasPrefix(got, "NOPERM") {
			t.Errorf("harness %q = %q, want NOPERM (outside vc:* or not needed; SHUTDOWN only with harness_may_crash)", denied, got)
		}
	}

	// The server got the module's memory settings and the save rules.
	if got := harness("config", "get", "maxmemory"); !strings.HasSuffix(got, "214748364") {
		t.Errorf("maxmemory = %q, want 40 %% of 512 MiB = 214748364", got)
	}
	if got := harness("config", "get", "maxmemory-policy"); !strings.HasSuffix(got, "allkeys-lru") {
		t.Errorf("maxmemory-policy = %q", got)
	}
	if got := harness("config", "get", "save"); !strings.HasSuffix(got, "900 1 300 10 60 10000") {
		t.Errorf("save = %q", got)
	}

	// Passwords are nowhere a process listing or a dump of the server's
	// environment shows them.
	pid := p.cmd.Process.Pid
	for _, f := range []string{"cmdline", "environ"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, f))
		if err != nil {
			t.Fatalf("read /proc/%d/%s: %v", pid, f, err)
		}
		for _, pw := range []string{testAppPassword, testHarnessPassword} {
			if bytes.Contains(data, []byte(pw)) {
				t.Errorf("/proc/<valkey-server>/%s contains a password", f)
			}
		}
	}
}

func TestValkeyHarnessUserMayCrashOnlyWhenAllowed(t *testing.T) {
	requireValkey(t)
	in := authOverrides()
	in["harness_may_crash"] = cty.True
	c := renderContainer(t, in, t.TempDir(), testSecrets)
	p := c.start(t)
	waitFor(t, "the health check to pass", func() bool { ok, _ := c.healthy(); return ok || p.exited() })
	c.cli("valkey-chaos", testHarnessPassword, nil, "shutdown", "nosave")
	waitFor(t, "SHUTDOWN NOSAVE from the harness user to stop the server", p.exited)
	if strings.Contains(p.log(), "NOPERM") {
		t.Errorf("log mentions NOPERM:\n%s", p.log())
	}
}

// The second task on one volume waits for the first to exit, including its
// final save, before it starts: the lock, not the deployment percentages,
// keeps one writer.
func TestValkeyWriterLockKeepsOneWriterPerVolume(t *testing.T) {
	requireValkey(t)
	dir := t.TempDir()
	first := renderContainer(t, authOverrides(), dir, testSecrets)
	a := first.start(t)
	waitFor(t, "the first task to be healthy", func() bool { ok, _ := first.healthy(); return ok || a.exited() })
	if a.exited() {
		t.Fatalf("first task exited: %v\n%s", a.err, a.log())
	}
	if got := first.cli("app", testAppPassword, nil, "set", "k", "v"); got != "OK" {
		t.Fatalf("SET on the first task = %q", got)
	}

	// A short wait: the second task gives up while the first still runs.
	short := authOverrides()
	short["writer_lock_wait"] = num(121)
	impatient := renderContainer(t, short, dir, testSecrets)
	for i, kv := range impatient.env {
		if strings.HasPrefix(kv, "VALKEY_WRITER_LOCK_WAIT=") {
			impatient.env[i] = "VALKEY_WRITER_LOCK_WAIT=1" // below the module's floor, to keep the test short
		}
	}
	b := impatient.start(t)
	waitFor(t, "the impatient second task to give up", b.exited)
	var exit *exec.ExitError
	if !asExitError(b.err, &exit) || exit.ExitCode() != 75 {
		t.Errorf("impatient task ended %v, want exit 75\n%s", b.err, b.log())
	}
	if !strings.Contains(b.log(), "still held") {
		t.Errorf("impatient task log does not say the lock was held:\n%s", b.log())
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", impatient.port), time.Second); err == nil {
		conn.Close()
		t.Errorf("the task that never got the lock listens on its port")
	}

	// A patient one waits, and starts only after the first has saved and exited.
	second := renderContainer(t, authOverrides(), dir, testSecrets)
	c := second.start(t)
	waitFor(t, "the second task to report the held lock", func() bool { return strings.Contains(c.log(), "waiting up to") })
	if ok, _ := second.healthy(); ok {
		t.Fatalf("second task is healthy while the first holds the lock")
	}
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first task to exit on SIGTERM", a.exited)
	if !strings.Contains(a.log(), "DB saved on disk") {
		t.Errorf("first task did not write its final save:\n%s", a.log())
	}
	waitFor(t, "the second task to start", func() bool { ok, _ := second.healthy(); return ok || c.exited() })
	if c.exited() {
		t.Fatalf("second task exited: %v\n%s", c.err, c.log())
	}
	if got := second.cli("app", testAppPassword, nil, "get", "k"); got != "v" {
		t.Errorf("second task reads k = %q, want the first task's final save (v)", got)
	}
	logB := c.log()
	if w, acq := strings.Index(logB, "waiting up to"), strings.Index(logB, "acquired"); w < 0 || acq < w {
		t.Errorf("second task log out of order:\n%s", logB)
	}
}

func asExitError(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// LOADING is healthy within health_check_loading_grace and unhealthy
// without it; MISCONF is unhealthy.
func TestValkeyHealthCheckToleratesLoadingWithinTheGrace(t *testing.T) {
	requireValkey(t)
	dir := t.TempDir()
	seed := renderContainer(t, authOverrides(), dir, testSecrets)
	p := seed.start(t)
	waitFor(t, "the seeding task to be healthy", func() bool { ok, _ := seed.healthy(); return ok || p.exited() })
	// A dataset that loads slowly: key-load-delay (µs per key) stretches it.
	populate := exec.Command("sh", "-c", fmt.Sprintf("for i in $(seq 1 %d); do echo \"SET vc:$i x\"; done | valkey-cli --no-auth-warning -h 127.0.0.1 -p %d --user app --pass '%s' >/dev/null", slowLoadKeys, seed.port, strings.ReplaceAll(testAppPassword, "'", "'\\''")))
	if out, err := populate.CombinedOutput(); err != nil {
		t.Fatalf("populate: %v %s", err, out)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the seeding task to save and exit", p.exited)

	for _, tc := range []struct {
		grace   float64
		healthy bool
	}{{600, true}, {0, false}} {
		in := authOverrides()
		in["health_check_loading_grace"] = num(tc.grace)
		c := renderContainer(t, in, dir, testSecrets)
		// 2 ms per key: about 10 s of LOADING, answering clients every 1 KiB loaded.
		c.command = append(c.command, "--key-load-delay", "2000", "--loading-process-events-interval-bytes", "1024")
		proc := c.start(t)
		loading := func() bool { return strings.HasPrefix(c.cli("app", testAppPassword, nil, "ping"), "LOADING") }
		waitFor(t, "the server to answer LOADING", func() bool { return loading() || proc.exited() })
		ok, out := c.healthy()
		if !loading() {
			t.Fatalf("the load ended before the health check finished, so its verdict (healthy=%v) is not about LOADING: raise slowLoadKeys", ok)
		}
		if ok != tc.healthy {
			t.Errorf("grace %v s: health check during LOADING healthy=%v, want %v (%s)", tc.grace, ok, tc.healthy, out)
		}
		_ = proc.cmd.Process.Kill()
		<-proc.done
	}
}

func TestValkeyContainerServesTLSFromSecrets(t *testing.T) {
	requireValkey(t)
	certPEM, keyPEM := testCertificate(t)
	in := authOverrides()
	in["tls_enabled"] = cty.True
	in["tls_cert_secret_arn"] = cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:cert-AbCdEf")
	in["tls_key_secret_arn"] = cty.StringVal("arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbCdEf")
	secrets := map[string]string{"VALKEY_TLS_CERT": certPEM, "VALKEY_TLS_KEY": keyPEM}
	for k, v := range testSecrets {
		secrets[k] = v
	}
	dir := t.TempDir()
	c := renderContainer(t, in, dir, secrets)
	p := c.start(t)
	waitFor(t, "the TLS health check to pass", func() bool { ok, _ := c.healthy(); return ok || p.exited() })
	if p.exited() {
		t.Fatalf("container exited: %v\n%s", p.err, p.log())
	}
	if got := c.cli("app", testAppPassword, []string{"--tls", "--insecure"}, "ping"); got != "PONG" {
		t.Errorf("PING over TLS = %q", got)
	}
	if got := c.cli("app", testAppPassword, nil, "ping"); got == "PONG" {
		t.Errorf("plain-text PING answered PONG: the port must speak TLS only")
	}
	st, err := os.Stat(filepath.Join(dir, ".tls", "server.key"))
	if err != nil {
		t.Fatalf("the key was not written to the volume: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("server.key mode %v, want 0600", st.Mode().Perm())
	}
}

func testCertificate(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "valkey.test"},
		DNSNames:     []string{"valkey.test", "localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
}

// checkHarnessKeyEvents: the harness user may not CONFIG SET anything, not
// even notify-keyspace-events, yet its key-event recorder works, because
// the module starts the server with the flags on: an expired vc: key is
// recorded.
func checkHarnessKeyEvents(t *testing.T, c container, harness func(...string) string) {
	t.Helper()
	if got := harness("config", "set", "notify-keyspace-events", "KEA"); !strings.HasPrefix(got, "NOPERM") {
		t.Errorf("harness CONFIG SET notify-keyspace-events = %q, want NOPERM", got)
	}
	got := strings.Fields(harness("config", "get", "notify-keyspace-events"))
	if len(got) != 2 || !probe.HasNotifyFlags(got[1]) {
		t.Fatalf("notify-keyspace-events = %q: the module must start the server with %s when the harness user is enabled", got, probe.NotifyFlags)
	}
	cl := probe.Client{Conn: valkeyconn.Settings{Auth: valkeyconn.Auth{User: "valkey-chaos", Password: testHarnessPassword}}}
	addr := fmt.Sprintf("127.0.0.1:%d", c.port)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, err := cl.RecordKeyEvents(ctx, func() string { return addr }, "vc:ttl:")
	if err != nil {
		t.Fatalf("the harness's key-event recorder as the module's harness user: %v", err)
	}
	defer rec.Stop()
	if got := harness("set", "vc:ttl:1", "x", "px", "20"); got != "OK" {
		t.Fatalf("harness SET PX = %q", got)
	}
	waitFor(t, "the expiry of vc:ttl:1 to be recorded", func() bool {
		harness("get", "vc:ttl:1") // an access expires it at once
		return rec.Events().Expired["vc:ttl:1"]
	})
}
