package terraform

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/tfmodule"
)

const (
	valkeyDir = "modules/valkey"
	chaosDir  = "modules/chaos-schedule"
	commonDir = "common"
)

func valkeyContainer(t *testing.T, m *module, overrides map[string]cty.Value) map[string]any {
	t.Helper()
	cs := m.containers(t, m.block(t, "resource", "aws_ecs_task_definition", "valkey"), overrides)
	if len(cs) != 1 {
		t.Fatalf("want one container in the Valkey task, got %d", len(cs))
	}
	return cs[0]
}

// flagValue returns the argument after flag in a command line.
func flagValue(t *testing.T, command []string, flag string) string {
	t.Helper()
	i := slices.Index(command, flag)
	if i < 0 || i+1 >= len(command) {
		t.Fatalf("command %q has no %s <value>", command, flag)
	}
	return command[i+1]
}

func TestValkeyDeploysTheHarnessDefaultSaveRules(t *testing.T) {
	m := loadModule(t, valkeyDir)
	if got := m.defaultOf(t, "save_rules"); got != savepolicy.Default {
		t.Errorf("save_rules default = %q, harness default savepolicy.Default = %q: keep one source of truth", got, savepolicy.Default)
	}
	command := stringList(t, valkeyContainer(t, m, nil)["command"])
	save := flagValue(t, command, "--save")
	if save != savepolicy.Default {
		t.Errorf("container runs --save %q, want %q", save, savepolicy.Default)
	}
	if _, err := savepolicy.Parse(save); err != nil {
		t.Errorf("deployed --save %q does not parse as save rules: %v", save, err)
	}
	for flag, want := range map[string]string{
		"--dir": "/data", "--dbfilename": "dump.rdb", "--rdbcompression": "yes", "--appendonly": "no",
	} {
		if got := flagValue(t, command, flag); got != want {
			t.Errorf("%s = %q, want %q", flag, got, want)
		}
	}

	// What the harness itself reads from the module (valkey-chaos plan --terraform).
	read, err := tfmodule.SaveRules(valkeyDir)
	if err != nil || read.String() != savepolicy.Default {
		t.Errorf("tfmodule.SaveRules(%s) = %q, %v; want %q", valkeyDir, read, err, savepolicy.Default)
	}

	custom := valkeyContainer(t, m, map[string]cty.Value{"save_rules": cty.StringVal("60 1000")})
	if got := flagValue(t, stringList(t, custom["command"]), "--save"); got != "60 1000" {
		t.Errorf("with save_rules = \"60 1000\" the container runs --save %q", got)
	}
}

func TestValkeyCommonKeepsTheModuleDefaults(t *testing.T) {
	// valkey-chaos reads the rules from the module; a root override would make
	// it plan against rules that are not deployed.
	call := loadModule(t, commonDir).block(t, "module", "valkey")
	for _, name := range []string{"save_rules", "stop_timeout", "deployment_minimum_healthy_percent", "deployment_maximum_percent", "stop_writes_on_bgsave_error"} {
		if _, ok := call.Body.Attributes[name]; ok {
			t.Errorf("terraform/common overrides %s of the valkey module; change the module default instead", name)
		}
	}
}

func TestValkeySaveRulesValidationAgreesWithTheHarness(t *testing.T) {
	m := loadModule(t, valkeyDir)
	cases := []struct {
		rules string
		ok    bool
	}{
		{savepolicy.Default, true},
		{"60 10000", true},
		{"3600 1 300 100", true},
		{"", false},          // no save point: nothing would persist
		{"900", false},       // odd count
		{"900 1 300", false}, // odd count
		{"900 0", false},     // zero changes
		{"0 1", false},       // zero seconds
		{"-60 1", false},
		{"60 1e3", false},
		{"60  1000", false}, // double space
		{" 60 1000", false},
		{"60,1000", false},
		{"\"60 1000\"", false},
		{"sixty 1000", false},
	}
	for _, c := range cases {
		got := m.validationPasses(t, "save_rules", cty.StringVal(c.rules))
		if got != c.ok {
			t.Errorf("save_rules = %q: module accepts %v, want %v", c.rules, got, c.ok)
		}
		if !got {
			continue
		}
		rules, err := savepolicy.Parse(c.rules)
		if err != nil || rules.String() != c.rules {
			t.Errorf("module accepts %q but the harness reads it as %q (err %v)", c.rules, rules, err)
		}
	}
}

func TestValkeyStopTimeoutLeavesRoomForTheFinalSave(t *testing.T) {
	m := loadModule(t, valkeyDir)
	if got := m.defaultOf(t, "stop_timeout"); got != 120.0 {
		t.Errorf("stop_timeout default = %v, want 120 (the Fargate maximum)", got)
	}
	if got := valkeyContainer(t, m, nil)["stopTimeout"]; got != 120.0 {
		t.Errorf("container stopTimeout = %v, want 120", got)
	}
	for _, c := range []struct {
		seconds float64
		ok      bool
	}{{1, false}, {2, true}, {30, true}, {120, true}, {121, false}, {300, false}, {60.5, false}} {
		if got := m.validationPasses(t, "stop_timeout", num(c.seconds)); got != c.ok {
			t.Errorf("stop_timeout = %v: accepted %v, want %v", c.seconds, got, c.ok)
		}
	}
}

// 0/100 keeps ECS from starting a second task next to a RUNNING one; the
// lock on the volume covers the STOPPING task's final save, which ECS no
// longer counts against maximumPercent.
func TestValkeyDeploymentNeverStartsASecondTaskAndLocksTheVolume(t *testing.T) {
	m := loadModule(t, valkeyDir)
	svc := m.block(t, "resource", "aws_ecs_service", "valkey")
	for attr, want := range map[string]float64{
		"desired_count":                      1,
		"deployment_minimum_healthy_percent": 0,
		"deployment_maximum_percent":         100,
	} {
		if got := m.attr(t, svc, attr, nil); got != want {
			t.Errorf("service %s = %v, want %v", attr, got, want)
		}
	}
	for _, c := range []struct {
		name string
		val  float64
		ok   bool
	}{
		{"deployment_maximum_percent", 200, true},
		{"deployment_maximum_percent", 99, false},
		{"deployment_maximum_percent", 201, false},
		{"deployment_minimum_healthy_percent", -1, false},
		{"deployment_minimum_healthy_percent", 101, false},
	} {
		if got := m.validationPasses(t, c.name, num(c.val)); got != c.ok {
			t.Errorf("%s = %v: accepted %v, want %v", c.name, c.val, got, c.ok)
		}
	}

	if got := m.defaultOf(t, "single_writer_lock"); got != true {
		t.Errorf("single_writer_lock default = %v, want true", got)
	}
	command := stringList(t, valkeyContainer(t, m, nil)["command"])
	if len(command) < 4 || command[0] != "sh" || command[1] != "-c" || command[3] != "valkey-server" {
		t.Fatalf("command %q: want sh -c <wrapper> valkey-server <args>", command)
	}
	for _, want := range []string{`exec 9>>"$VALKEY_WRITER_LOCK"`, `flock -x -w "$VALKEY_WRITER_LOCK_WAIT" 9`, `exec valkey-server "$@"`} {
		if !strings.Contains(command[2], want) {
			t.Errorf("wrapper lacks %q:\n%s", want, command[2])
		}
	}
	env := map[string]string{}
	for _, e := range valkeyContainer(t, m, nil)["environment"].([]any) {
		env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"].(string)
	}
	if env["VALKEY_WRITER_LOCK"] != "/data/.valkey-writer.lock" || env["VALKEY_WRITER_LOCK_WAIT"] != "180" {
		t.Errorf("lock environment %v, want the lock on /data and a 180 s wait", env)
	}
	if m.validationPasses(t, "writer_lock_wait", num(120)) {
		t.Error("writer_lock_wait = stop_timeout (120) accepted; the wait must outlast the old task's final save")
	}
	off := stringList(t, valkeyContainer(t, m, map[string]cty.Value{"single_writer_lock": cty.False})["command"])
	if off[0] != "--dir" {
		t.Errorf("single_writer_lock = false (and no auth) still wraps the command: %q", off[:3])
	}
}

func TestValkeyDataIsEncryptedAtRestAndInTransit(t *testing.T) {
	m := loadModule(t, valkeyDir)
	fs := m.block(t, "resource", "aws_efs_file_system", "valkey")
	if got := m.attr(t, fs, "encrypted", nil); got != true {
		t.Errorf("aws_efs_file_system encrypted = %v, want true", got)
	}
	if got := m.defaultOf(t, "efs_transition_to_ia"); got != "AFTER_30_DAYS" {
		t.Errorf("efs_transition_to_ia default = %v, want AFTER_30_DAYS", got)
	}

	efs := nested(t, m.block(t, "resource", "aws_ecs_task_definition", "valkey"), "volume", "efs_volume_configuration")
	if got := m.attr(t, efs, "transit_encryption", nil); got != "ENABLED" {
		t.Errorf("transit_encryption = %v, want ENABLED", got)
	}
	auth := nested(t, efs, "authorization_config")
	if got := m.attr(t, auth, "iam", nil); got != "ENABLED" {
		t.Errorf("authorization_config iam = %v, want ENABLED", got)
	}
	if got := refs(auth.Body.Attributes["access_point_id"].Expr); !slices.Contains(got, "aws_efs_access_point.valkey.id") {
		t.Errorf("volume mounts through %v, want the module's access point", got)
	}

	// The file system policy refuses clients that connect without TLS.
	policy := m.block(t, "data", "aws_iam_policy_document", "efs")
	found := false
	for _, st := range statements(t, m, policy) {
		for _, c := range st.conditions {
			if st.effect == "Deny" && c.variable == "aws:SecureTransport" && slices.Equal(c.values, []string{"false"}) {
				found = true
			}
		}
	}
	if !found {
		t.Error("EFS file system policy does not deny aws:SecureTransport = false")
	}

	mt := m.block(t, "resource", "aws_efs_mount_target", "valkey")
	if got := exprText(mt.Body.Attributes["for_each"].Expr); got != "toset(var.subnet_ids)" {
		t.Errorf("mount targets for_each = %s, want one per subnet, keyed by subnet", got)
	}
}

func TestValkeyRunsAsTheAccessPointUser(t *testing.T) {
	m := loadModule(t, valkeyDir)
	ap := m.block(t, "resource", "aws_efs_access_point", "valkey")
	user := nested(t, ap, "posix_user")
	uid, gid := m.attr(t, user, "uid", nil), m.attr(t, user, "gid", nil)
	if uid != 1000.0 || gid != 1000.0 {
		t.Errorf("access point posix_user = %v:%v, want 1000:1000", uid, gid)
	}
	want := fmt.Sprintf("%v:%v", uid, gid)
	if got := valkeyContainer(t, m, nil)["user"]; got != want {
		t.Errorf("container user = %v, want the access point's %s (the image's root entrypoint chown fails under an access point)", got, want)
	}
	root := nested(t, ap, "root_directory")
	if p := m.attr(t, root, "path", nil); p == "/" || p == "" {
		t.Errorf("access point root_directory path = %v, want its own directory", p)
	}
	info := nested(t, root, "creation_info")
	if o := fmt.Sprintf("%v:%v", m.attr(t, info, "owner_uid", nil), m.attr(t, info, "owner_gid", nil)); o != want {
		t.Errorf("root directory created as %s, want %s", o, want)
	}

	// One uid everywhere, even when a user picks another.
	custom := map[string]cty.Value{"posix_uid": num(2000), "posix_gid": num(3000)}
	if got := valkeyContainer(t, m, custom)["user"]; got != "2000:3000" {
		t.Errorf("with posix_uid 2000 and posix_gid 3000 the container runs as %v", got)
	}
}

func TestValkeyMountsDataWhereItSaves(t *testing.T) {
	m := loadModule(t, valkeyDir)
	c := valkeyContainer(t, m, nil)
	dir := flagValue(t, stringList(t, c["command"]), "--dir")
	volume := nested(t, m.block(t, "resource", "aws_ecs_task_definition", "valkey"), "volume")
	volumeName := m.attr(t, volume, "name", nil)
	mounts, _ := c["mountPoints"].([]any)
	for _, mp := range mounts {
		mp := mp.(map[string]any)
		if mp["containerPath"] == dir && mp["sourceVolume"] == volumeName && mp["readOnly"] == false {
			return
		}
	}
	t.Errorf("no writable mount of volume %v at --dir %s: %v", volumeName, dir, mounts)
}

func TestValkeyLogsWhereTheHarnessLooks(t *testing.T) {
	m := loadModule(t, valkeyDir)
	logs, _ := valkeyContainer(t, m, nil)["logConfiguration"].(map[string]any)
	if logs["logDriver"] != "awslogs" {
		t.Fatalf("log driver = %v, want awslogs", logs["logDriver"])
	}
	opts, _ := logs["options"].(map[string]any)
	group := m.attr(t, m.block(t, "resource", "aws_cloudwatch_log_group", "valkey"), "name", nil)
	if opts["awslogs-group"] != group {
		t.Errorf("container logs to %v, the module's log group is %v", opts["awslogs-group"], group)
	}
	if got, want := opts["awslogs-stream-prefix"], m.defaultOf(t, "log_stream_prefix"); got != want || got != "valkey" {
		t.Errorf("awslogs-stream-prefix = %v, want the log_stream_prefix default %v (\"valkey\")", got, want)
	}
	if got := valkeyContainer(t, m, map[string]cty.Value{"log_stream_prefix": cty.StringVal("cache")})["logConfiguration"]; got.(map[string]any)["options"].(map[string]any)["awslogs-stream-prefix"] != "cache" {
		t.Errorf("log_stream_prefix = cache not applied: %v", got)
	}
}

func TestValkeyHealthCheckComparesTheReply(t *testing.T) {
	m := loadModule(t, valkeyDir)
	hc, _ := valkeyContainer(t, m, nil)["healthCheck"].(map[string]any)
	command := stringList(t, hc["command"])
	if len(command) != 2 || command[0] != "CMD-SHELL" || !strings.Contains(command[1], "PONG") {
		t.Fatalf("health check %q: want CMD-SHELL comparing the PING reply with PONG", command)
	}
	for field, variable := range map[string]string{
		"startPeriod": "health_check_start_period", "interval": "health_check_interval",
		"timeout": "health_check_timeout", "retries": "health_check_retries",
	} {
		if got := hc[field]; got != m.defaultOf(t, variable) {
			t.Errorf("health check %s = %v, want the %s default %v", field, got, variable, m.defaultOf(t, variable))
		}
	}
	checkHealthCommandAgainstRealServer(t)
}

// checkHealthCommandAgainstRealServer runs the container and its health
// check against a real valkey-server, healthy and then refusing writes with
// MISCONF.
func checkHealthCommandAgainstRealServer(t *testing.T) {
	requireValkey(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := renderContainer(t, authOverrides(), dataDir, testSecrets)
	p := c.start(t)
	waitFor(t, "the health check to pass", func() bool { ok, _ := c.healthy(); return ok || p.exited() })
	if p.exited() {
		t.Fatalf("container exited: %v\n%s", p.err, p.log())
	}
	app := func(args ...string) string { return c.cli("app", testAppPassword, nil, args...) }
	harness := func(args ...string) string { return c.cli("valkey-chaos", testHarnessPassword, nil, args...) }

	// A save that cannot write: the directory is gone, BGSAVE fails, and Valkey
	// answers MISCONF to writes and to PING.
	if err := os.RemoveAll(dataDir); err != nil {
		t.Fatal(err)
	}
	if out := harness("bgsave"); !strings.Contains(out, "started") {
		t.Fatalf("bgsave: %s", out)
	}
	waitFor(t, "the failed BGSAVE to be recorded", func() bool {
		return strings.Contains(harness("info", "persistence"), "rdb_last_bgsave_status:err")
	})
	if out := app("ping"); !strings.HasPrefix(out, "MISCONF") {
		t.Fatalf("PING after a failed save: %q; want MISCONF (which valkey-cli exits 0 on), the case the check must catch", out)
	}
	if ok, out := c.healthy(); ok {
		t.Errorf("health check passes while Valkey answers MISCONF (%s)", out)
	}
}

func TestValkeyChaosOptInIsOffByDefault(t *testing.T) {
	m := loadModule(t, valkeyDir)
	svc := m.block(t, "resource", "aws_ecs_service", "valkey")
	if tags, _ := m.attr(t, svc, "tags", nil).(map[string]any); tags["valkey-chaos"] != nil {
		t.Errorf("service is tagged valkey-chaos=%v by default; the opt-in must be off", tags["valkey-chaos"])
	}
	tags, _ := m.attr(t, svc, "tags", map[string]cty.Value{"chaos_opt_in": cty.True}).(map[string]any)
	if tags["valkey-chaos"] != "allowed" {
		t.Errorf("chaos_opt_in = true tags the service %v, want valkey-chaos = allowed", tags)
	}
	if got := m.attr(t, svc, "propagate_tags", nil); got != "SERVICE" {
		t.Errorf("propagate_tags = %v: tasks must carry the opt-in tag the harness role's StopTask condition checks", got)
	}
}

func TestCommonEFSAcceptsNFSOnlyFromValkeyAndBastion(t *testing.T) {
	m := loadModule(t, commonDir)
	sg := m.block(t, "resource", "aws_security_group", "efs_valkey")
	for _, b := range sg.Body.Blocks {
		if b.Type == "ingress" || b.Type == "egress" {
			t.Errorf("EFS security group has an inline %s block; use aws_vpc_security_group_*_rule resources", b.Type)
		}
	}
	sources := map[string]bool{}
	for _, r := range m.blocksOf("resource", "aws_vpc_security_group_ingress_rule") {
		if !slices.Contains(refs(r.Body.Attributes["security_group_id"].Expr), "aws_security_group.efs_valkey.id") {
			continue
		}
		for _, open := range []string{"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} {
			if _, ok := r.Body.Attributes[open]; ok {
				t.Errorf("EFS ingress %s opens %s", r.Labels[1], open)
			}
		}
		if p := m.attr(t, r, "ip_protocol", nil); p != "tcp" {
			t.Errorf("EFS ingress %s protocol %v, want tcp", r.Labels[1], p)
		}
		from, to := m.attr(t, r, "from_port", nil), m.attr(t, r, "to_port", nil)
		if from != 2049.0 || to != 2049.0 {
			t.Errorf("EFS ingress %s ports %v-%v, want 2049", r.Labels[1], from, to)
		}
		src, ok := r.Body.Attributes["referenced_security_group_id"]
		if !ok {
			t.Errorf("EFS ingress %s has no source security group", r.Labels[1])
			continue
		}
		for _, ref := range refs(src.Expr) {
			sources[ref] = true
		}
	}
	want := map[string]bool{"aws_security_group.valkey_tasks.id": true, "var.bastion_security_group_id": true}
	if fmt.Sprint(sources) != fmt.Sprint(want) {
		t.Errorf("EFS accepts NFS from %v, want exactly %v", sources, want)
	}
	call := m.block(t, "module", "valkey")
	if got := refs(call.Body.Attributes["efs_security_group_id"].Expr); !slices.Equal(got, []string{"aws_security_group.efs_valkey.id"}) {
		t.Errorf("mount targets use security group %v, want aws_security_group.efs_valkey", got)
	}
	if got := refs(call.Body.Attributes["security_group_ids"].Expr); !slices.Equal(got, []string{"aws_security_group.valkey_tasks.id"}) {
		t.Errorf("the Valkey task runs in %v, want aws_security_group.valkey_tasks (the group EFS admits)", got)
	}
}

func TestIAMPoliciesAreScoped(t *testing.T) {
	for _, dir := range []string{commonDir, chaosDir, valkeyDir} {
		m := loadModule(t, dir)
		for _, doc := range m.blocksOf("data", "aws_iam_policy_document") {
			for _, st := range statements(t, m, doc) {
				where := fmt.Sprintf("%s data.aws_iam_policy_document.%s statement %q", dir, doc.Labels[1], st.sid)
				for _, a := range st.actions {
					if strings.Contains(a, "ClientRootAccess") {
						t.Errorf("%s grants %s: the access point maps clients to uid 1000, root is never needed", where, a)
					}
				}
				if st.resourcePolicy || st.effect == "Deny" {
					continue // "*" in a key or resource policy means the resource itself
				}
				for _, a := range st.actions {
					if strings.Contains(a, "*") {
						t.Errorf("%s uses wildcard action %s", where, a)
					}
				}
				if !slices.Contains(st.resources, "*") {
					continue
				}
				for _, a := range st.actions {
					switch {
					case isRead(a):
					case a == "cloudwatch:PutMetricData" && st.hasCondition("cloudwatch:namespace"):
					default:
						t.Errorf("%s allows %s on every resource", where, a)
					}
				}
			}
		}
		// Every inline policy comes from a document checked above.
		for _, p := range m.blocksOf("resource", "aws_iam_role_policy") {
			got := refs(p.Body.Attributes["policy"].Expr)
			if len(got) != 1 || !strings.HasPrefix(got[0], "data.aws_iam_policy_document.") {
				t.Errorf("%s aws_iam_role_policy.%s policy = %s, want a data.aws_iam_policy_document", dir, p.Labels[1], exprText(p.Body.Attributes["policy"].Expr))
			}
		}
	}
}

func TestValkeyTaskRoleMountsOnlyThroughTheAccessPoint(t *testing.T) {
	m := loadModule(t, commonDir)
	st := statementBySid(t, m, "valkey_task", "MountAndWriteThroughAccessPoint")
	if want := []string{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"}; !slices.Equal(st.actions, want) {
		t.Errorf("task role EFS actions = %v, want %v", st.actions, want)
	}
	if !slices.Equal(st.resourceRefs, []string{"module.valkey.efs_file_system_arn"}) {
		t.Errorf("task role EFS resources = %v, want this file system only", st.resourceRefs)
	}
	c := st.condition(t, "elasticfilesystem:AccessPointArn")
	if c.test != "StringEquals" || !slices.Equal(c.valueRefs, []string{"module.valkey.efs_access_point_arn"}) {
		t.Errorf("task role EFS condition = %+v, want StringEquals on the module's access point ARN", c)
	}
	task := m.block(t, "module", "valkey")
	if got := refs(task.Body.Attributes["task_role_arn"].Expr); !slices.Equal(got, []string{"aws_iam_role.valkey_task.arn"}) {
		t.Errorf("the Valkey task runs with role %v, want aws_iam_role.valkey_task", got)
	}
}

func TestHarnessRoleReachesOnlyTheValkeyService(t *testing.T) {
	m := loadModule(t, chaosDir)
	doc := "harness_task"
	stop := statementBySid(t, m, doc, "StopOptedInTasks")
	if !slices.Equal(stop.actions, []string{"ecs:StopTask"}) || !slices.Equal(stop.condition(t, "ecs:cluster").valueRefs, []string{"var.cluster_arn"}) {
		t.Errorf("StopTask statement %+v: want ecs:StopTask conditioned on ecs:cluster = var.cluster_arn", stop)
	}
	if tag := stop.condition(t, "aws:ResourceTag/valkey-chaos"); !slices.Equal(tag.values, []string{"allowed"}) {
		t.Errorf("StopTask tag condition %+v, want valkey-chaos = allowed", tag)
	}
	if svc := stop.condition(t, "aws:ResourceTag/aws:ecs:serviceName"); svc.test != "StringEquals" || !slices.Equal(svc.valueRefs, []string{"var.valkey_service_name"}) {
		t.Errorf("StopTask service condition %+v, want the ECS-managed aws:ecs:serviceName tag = var.valkey_service_name", svc)
	}
	update := statementBySid(t, m, doc, "RollTheService")
	if !slices.Equal(update.actions, []string{"ecs:UpdateService"}) || !slices.Equal(update.resourceRefs, []string{"var.valkey_service_arn"}) {
		t.Errorf("UpdateService statement %+v: want the one service ARN", update)
	}
	if tag := update.condition(t, "aws:ResourceTag/valkey-chaos"); !slices.Equal(tag.values, []string{"allowed"}) {
		t.Errorf("UpdateService tag condition %+v, want valkey-chaos = allowed", tag)
	}
	if kms := statementBySid(t, m, doc, "EncryptResults").condition(t, "kms:ViaService"); len(kms.values)+len(kms.valueRefs) == 0 {
		t.Errorf("the harness's KMS grant has no kms:ViaService value")
	}
	for _, trust := range []string{"ecs_tasks_assume", "scheduler_assume"} {
		for _, st := range statements(t, m, m.block(t, "data", "aws_iam_policy_document", trust)) {
			if !st.hasCondition("aws:SourceArn") || !st.hasCondition("aws:SourceAccount") {
				t.Errorf("trust policy %s lacks aws:SourceArn and aws:SourceAccount conditions", trust)
			}
		}
	}
	logs := statementBySid(t, m, doc, "ReadTheValkeyLog")
	for _, r := range logs.resourceRefs {
		if r != "var.valkey_log_group_arn" {
			t.Errorf("log read reaches %s, want only the Valkey log group", r)
		}
	}
	metrics := statementBySid(t, m, doc, "PublishIntoOneNamespace")
	if ns := metrics.condition(t, "cloudwatch:namespace"); ns.test != "StringEquals" || !slices.Equal(ns.valueRefs, []string{"var.metric_namespace"}) {
		t.Errorf("PutMetricData condition %+v, want StringEquals cloudwatch:namespace = var.metric_namespace", ns)
	}
	alarms := statementBySid(t, m, doc, "ReadStopConditionAlarms")
	if !slices.Equal(alarms.actions, []string{"cloudwatch:DescribeAlarms"}) {
		t.Errorf("alarm statement actions %v", alarms.actions)
	}
	var granted []string
	for _, st := range statements(t, m, m.block(t, "data", "aws_iam_policy_document", doc)) {
		granted = append(granted, st.actions...)
	}
	slices.Sort(granted)
	want := []string{
		"cloudwatch:DescribeAlarms", "cloudwatch:PutMetricData",
		"ecs:DescribeServices", "ecs:DescribeTaskDefinition", "ecs:DescribeTasks", "ecs:ListTagsForResource", "ecs:ListTasks",
		"ecs:StopTask", "ecs:UpdateService",
		"kms:Decrypt", "kms:GenerateDataKey",
		"logs:GetLogEvents",
		"s3:PutObject",
	}
	if !slices.Equal(granted, want) {
		t.Errorf("harness role grants %v\nwant exactly %v", granted, want)
	}
}

func TestChaosScheduleRunsTheHarnessAgainstTheService(t *testing.T) {
	m := loadModule(t, chaosDir)
	in := map[string]cty.Value{
		"cluster_arn":         cty.StringVal("arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster"),
		"valkey_service_name": cty.StringVal("trigpointing-valkey"),
	}
	tasks := m.containers(t, m.block(t, "resource", "aws_ecs_task_definition", "harness"), in)
	var harness map[string]any
	for _, c := range tasks {
		if c["name"] == "harness" {
			harness = c
		}
	}
	if harness == nil {
		t.Fatal("no harness container")
	}
	command, _ := harness["command"].([]any)
	args := make([]string, len(command))
	for i, a := range command {
		args[i], _ = a.(string)
	}
	if len(args) == 0 || args[0] != "run" {
		t.Fatalf("harness command %v, want valkey-chaos run ... (a function the test does not know makes it unknown)", harness["command"])
	}
	namespace := m.defaultOf(t, "metric_namespace")
	for flag, want := range map[string]string{
		"--target":  "ecs",
		"--cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/trigpointing-cluster",
		"--service": "trigpointing-valkey",
		"--publish": fmt.Sprintf("cloudwatch:%v", namespace),
		"--out":     "/results",
	} {
		if got := flagValue(t, args, flag); got != want {
			t.Errorf("harness %s = %q, want %q", flag, got, want)
		}
	}
	if got := harness["user"]; got == nil || got == "0" || strings.HasPrefix(fmt.Sprint(got), "0:") || got == "root" {
		t.Errorf("harness runs as %v, want a non-root user", got)
	}

	alarm := m.block(t, "resource", "aws_cloudwatch_metric_alarm", "verdict")
	for attr, want := range map[string]any{
		"metric_name": "verdict_failed", "namespace": namespace, "threshold": 1.0,
		"comparison_operator": "GreaterThanOrEqualToThreshold", "statistic": "Maximum",
	} {
		if got := m.attr(t, alarm, attr, nil); got != want {
			t.Errorf("verdict alarm %s = %v, want %v", attr, got, want)
		}
	}

	alarms := map[string]cty.Value{"stop_condition_alarm_names": cty.TupleVal([]cty.Value{cty.StringVal("api-5xx")})}
	for k, v := range in {
		alarms[k] = v
	}
	guarded := stringList(t, m.containers(t, m.block(t, "resource", "aws_ecs_task_definition", "harness"), alarms)[0]["command"])
	if got := flagValue(t, guarded, "--alarm"); got != "api-5xx" {
		t.Errorf("stop_condition_alarm_names = [api-5xx] passes --alarm %q", got)
	}

	target := nested(t, m.block(t, "resource", "aws_scheduler_schedule", "harness"), "target")
	if got := m.attr(t, nested(t, target, "retry_policy"), "maximum_retry_attempts", nil); got != 0.0 {
		t.Errorf("schedule retries %v times; a retried run stops the cache again", got)
	}
	if got := refs(target.Body.Attributes["arn"].Expr); !slices.Equal(got, []string{"var.cluster_arn"}) {
		t.Errorf("schedule target %v, want the cluster", got)
	}
	for _, c := range []struct {
		expr string
		ok   bool
	}{
		{"rate(7 days)", true}, {"cron(0 3 ? * MON *)", true}, {"rate(1 hour)", true},
		{"at(2030-01-01T00:00:00)", false}, {"7 days", false}, {"", false}, {"cron()", false},
	} {
		if got := m.validationPasses(t, "schedule_expression", cty.StringVal(c.expr)); got != c.ok {
			t.Errorf("schedule_expression %q: accepted %v, want %v", c.expr, got, c.ok)
		}
	}
	for _, c := range []struct {
		ns string
		ok bool
	}{{"ValkeyChaos", true}, {"AWS/ECS", false}, {"", false}} {
		if got := m.validationPasses(t, "metric_namespace", cty.StringVal(c.ns)); got != c.ok {
			t.Errorf("metric_namespace %q: accepted %v, want %v", c.ns, got, c.ok)
		}
	}
}

func TestChaosResultsBucketIsPrivateEncryptedVersionedAndExpires(t *testing.T) {
	m := loadModule(t, chaosDir)
	pab := m.block(t, "resource", "aws_s3_bucket_public_access_block", "results")
	for _, a := range []string{"block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"} {
		if got := m.attr(t, pab, a, nil); got != true {
			t.Errorf("results bucket %s = %v, want true", a, got)
		}
	}
	v := nested(t, m.block(t, "resource", "aws_s3_bucket_versioning", "results"), "versioning_configuration")
	if got := m.attr(t, v, "status", nil); got != "Enabled" {
		t.Errorf("results bucket versioning = %v, want Enabled", got)
	}
	sse := nested(t, m.block(t, "resource", "aws_s3_bucket_server_side_encryption_configuration", "results"), "rule", "apply_server_side_encryption_by_default")
	if got := m.attr(t, sse, "sse_algorithm", nil); got != "aws:kms" && got != "AES256" {
		t.Errorf("results bucket encryption = %v, want aws:kms or AES256", got)
	}
	rule := nested(t, m.block(t, "resource", "aws_s3_bucket_lifecycle_configuration", "results"), "rule")
	for _, want := range []string{"expiration", "noncurrent_version_expiration", "abort_incomplete_multipart_upload"} {
		nested(t, rule, want)
	}
	if got := m.attr(t, rule, "status", nil); got != "Enabled" {
		t.Errorf("lifecycle rule status = %v", got)
	}
}

func TestHarnessImageIsStaticAndNonRoot(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(chaosDir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var stages [][]string       // instructions per stage, continuation lines joined
	args := map[string]string{} // ARG defaults before the first FROM
	for _, line := range strings.Split(strings.ReplaceAll(string(src), "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); len(stages) == 0 && strings.EqualFold(f[0], "ARG") {
			name, def, ok := strings.Cut(f[1], "=")
			if !ok {
				t.Errorf("Dockerfile ARG %s has no documented default", name)
			}
			args[name] = def
			continue
		}
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			if !strings.Contains(strings.Fields(line)[1], "${") {
				t.Errorf("%s: base images must be build arguments (ARG ..._IMAGE) so a release can pin their digests", line)
			}
			for name, def := range args {
				line = strings.ReplaceAll(line, "${"+name+"}", def)
			}
			stages = append(stages, nil)
		}
		if len(stages) > 0 {
			stages[len(stages)-1] = append(stages[len(stages)-1], line)
		}
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	build := strings.Join(stages[0], "\n")
	if !strings.Contains(build, "CGO_ENABLED=0") || !strings.Contains(build, "./cmd/valkey-chaos") {
		t.Errorf("build stage does not build ./cmd/valkey-chaos with CGO_ENABLED=0:\n%s", build)
	}
	final := stages[len(stages)-1]
	base := strings.Fields(final[0])[1]
	if !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("runtime image %s, want distroless/static or scratch", base)
	}
	var user string
	for _, ins := range final {
		if f := strings.Fields(ins); strings.EqualFold(f[0], "USER") {
			user = f[1]
		}
	}
	if user == "" || user == "root" || user == "0" || strings.HasPrefix(user, "0:") {
		t.Errorf("runtime image runs as %q, want a non-root user", user)
	}

	// The task definition runs the image as the same user, with /results
	// declared as a VOLUME so ECS hands that user a writable bind mount.
	m := loadModule(t, chaosDir)
	for _, c := range m.containers(t, m.block(t, "resource", "aws_ecs_task_definition", "harness"), nil) {
		if c["name"] != "harness" {
			continue
		}
		if c["user"] != user {
			t.Errorf("task definition runs the harness as %v, the image as %s", c["user"], user)
		}
		for _, mp := range c["mountPoints"].([]any) {
			path := mp.(map[string]any)["containerPath"].(string)
			if !strings.Contains(strings.Join(final, "\n"), `"`+path+`"`) {
				t.Errorf("harness mounts %s but the image declares no VOLUME for it (the mount would be root-owned)", path)
			}
		}
	}
}

// statement is one statement of an aws_iam_policy_document, read statically.
type statement struct {
	sid            string
	effect         string
	actions        []string
	resources      []string // literal resources; references appear in resourceRefs
	resourceRefs   []string
	resourcePolicy bool // has principals: a key, bucket or file system policy
	conditions     []condition
}

type condition struct {
	test, variable string
	values         []string
	valueRefs      []string
}

func (s statement) hasCondition(variable string) bool {
	for _, c := range s.conditions {
		if c.variable == variable {
			return true
		}
	}
	return false
}

func (s statement) condition(t *testing.T, variable string) condition {
	t.Helper()
	for _, c := range s.conditions {
		if c.variable == variable {
			return c
		}
	}
	t.Fatalf("statement %q has no condition on %s", s.sid, variable)
	return condition{}
}

func statementBySid(t *testing.T, m *module, doc, sid string) statement {
	t.Helper()
	for _, st := range statements(t, m, m.block(t, "data", "aws_iam_policy_document", doc)) {
		if st.sid == sid {
			return st
		}
	}
	t.Fatalf("%s: policy document %s has no statement %q", m.dir, doc, sid)
	return statement{}
}

func statements(t *testing.T, m *module, doc *hclsyntax.Block) []statement {
	t.Helper()
	var out []statement
	for _, b := range doc.Body.Blocks {
		body := b
		if b.Type == "dynamic" && b.Labels[0] == "statement" {
			body = nested(t, b, "content")
		} else if b.Type != "statement" {
			continue
		}
		st := statement{effect: "Allow"}
		if a, ok := body.Body.Attributes["sid"]; ok {
			st.sid, _ = goValue(m.eval(t, a.Expr, nil)).(string)
		}
		if a, ok := body.Body.Attributes["effect"]; ok {
			st.effect, _ = goValue(m.eval(t, a.Expr, nil)).(string)
		}
		if a, ok := body.Body.Attributes["actions"]; ok {
			st.actions = stringList(t, goValue(m.eval(t, a.Expr, nil)))
		}
		if a, ok := body.Body.Attributes["resources"]; ok {
			st.resources, st.resourceRefs = literalsAndRefs(a.Expr)
		}
		for _, inner := range body.Body.Blocks {
			switch inner.Type {
			case "principals":
				st.resourcePolicy = true
			case "condition":
				c := condition{}
				c.test, _ = goValue(m.eval(t, inner.Body.Attributes["test"].Expr, nil)).(string)
				c.variable, _ = goValue(m.eval(t, inner.Body.Attributes["variable"].Expr, nil)).(string)
				c.values, c.valueRefs = literalsAndRefs(inner.Body.Attributes["values"].Expr)
				st.conditions = append(st.conditions, c)
			}
		}
		out = append(out, st)
	}
	return out
}

// literalsAndRefs splits a list expression into its literal strings and the
// references the other elements make.
func literalsAndRefs(expr hcl.Expression) (literals, references []string) {
	tuple, ok := expr.(*hclsyntax.TupleConsExpr)
	if !ok {
		return nil, refs(expr)
	}
	for _, e := range tuple.Exprs {
		if v, diags := e.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() {
			literals = append(literals, v.AsString())
			continue
		}
		references = append(references, refs(e)...)
	}
	return literals, references
}

// isRead reports whether an IAM action only reads.
func isRead(action string) bool {
	_, name, _ := strings.Cut(action, ":")
	for _, p := range []string{"Describe", "List", "Get", "BatchGet", "BatchCheck", "Filter"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// nested follows a path of nested block types, failing when one is missing.
func nested(t *testing.T, b *hclsyntax.Block, path ...string) *hclsyntax.Block {
	t.Helper()
	cur := b
	for _, typ := range path {
		var next *hclsyntax.Block
		for _, inner := range cur.Body.Blocks {
			if inner.Type == typ {
				next = inner
				break
			}
		}
		if next == nil {
			t.Fatalf("%s %s has no %s block", cur.Type, strings.Join(cur.Labels, "."), typ)
		}
		cur = next
	}
	return cur
}

// A scheduled run that is refused, interrupted or errors publishes Heartbeat
// and Outcome but no pass; one that never runs publishes nothing. Both alarms
// must count silence as breaching and watch what the harness publishes.
func TestChaosAlarmsTurnRedOnSilenceAndBadOutcomes(t *testing.T) {
	m := loadModule(t, chaosDir)
	hb := m.block(t, "resource", "aws_cloudwatch_metric_alarm", "heartbeat")
	for attr, want := range map[string]any{
		"metric_name": "Heartbeat", "namespace": "ValkeyChaos", "treat_missing_data": "breaching",
		"comparison_operator": "LessThanThreshold", "threshold": 1.0, "statistic": "Sum",
	} {
		if got := m.attr(t, hb, attr, nil); got != want {
			t.Errorf("heartbeat alarm %s = %v, want %v", attr, got, want)
		}
	}
	if m.attr(t, hb, "evaluation_periods", nil) != m.attr(t, hb, "datapoints_to_alarm", nil) {
		t.Error("heartbeat alarm must need every period of its window empty (datapoints_to_alarm = evaluation_periods)")
	}
	outcome := m.block(t, "resource", "aws_cloudwatch_metric_alarm", "outcome")
	if got := m.attr(t, outcome, "treat_missing_data", nil); got != "breaching" {
		t.Errorf("outcome alarm treat_missing_data = %v, want breaching", got)
	}
	outcomes := stringList(t, m.defaultOf(t, "alarm_outcomes"))
	for _, o := range []string{"fail", "inconclusive", "invalid", "refused", "interrupted", "harness-error"} {
		if !slices.Contains(outcomes, o) {
			t.Errorf("alarm_outcomes default %v misses %s", outcomes, o)
		}
	}
	if slices.Contains(outcomes, "pass") {
		t.Error("alarm_outcomes must not alarm on pass")
	}
	dyn := nested(t, outcome, "dynamic", "content", "metric")
	if got := m.attr(t, dyn, "metric_name", nil); got != "Outcome" {
		t.Errorf("outcome alarm reads metric %v, want Outcome", got)
	}
	if got := exprText(dyn.Body.Attributes["dimensions"].Expr); !strings.Contains(got, "Outcome = metric_query.key") {
		t.Errorf("outcome alarm dimensions %s, want Outcome = <outcome>", got)
	}
	if got := m.defaultOf(t, "schedule_enabled"); got != false {
		t.Errorf("schedule_enabled default = %v, want false", got)
	}
	if m.validationPasses(t, "harness_image_tag", cty.StringVal("latest")) {
		t.Error("harness_image_tag = latest must be rejected")
	}
}
