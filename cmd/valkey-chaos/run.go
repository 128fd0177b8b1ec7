package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/judge"
	"github.com/trigpointing/valkey-chaos/report"
	"github.com/trigpointing/valkey-chaos/result"
	"github.com/trigpointing/valkey-chaos/savepolicy"
	"github.com/trigpointing/valkey-chaos/scenarios"
	"github.com/trigpointing/valkey-chaos/target/ecs"
	"github.com/trigpointing/valkey-chaos/target/local"
	"github.com/trigpointing/valkey-chaos/valkeyconn"
)

type runOpts struct {
	save         string
	timeScale    float64
	trials       int
	seed         int64
	out          string
	runID        string
	keys         int64
	rate         string
	stopTimeout  time.Duration
	restartDelay time.Duration
	serverBin    string
	replacement  string // --replacement-bin
	port         int
	slos         []string
	targetKind   string
	noReport     bool
	keepData     bool
	ecs          ecs.Config
	publish      string
	conn         connFlags
	// The local target's server certificate (with --tls).
	serverTLSCert, serverTLSKey string
	serverACL                   string // --server-acl: the local server's --user rules
	persistence                 string
	taskMemory                  string
}

func newRunCmd() *cobra.Command {
	var o runOpts
	cmd := &cobra.Command{
		Use:   "run [SCENARIO|FILE ...]",
		Short: "Run chaos trials (default: the thresholds suite) and write results/<run-id>/",
		Long: `Starts Valkey with the save rules, writes keys at rates matched to each rule,
kills it the way production does (crash = SIGKILL, stop = ECS StopTask), restarts it
on the same data, and measures what was lost, the loss window and the warm-up.

Exit codes: 0 all trials passed; 2 bad input; 3 a trial, SLO or invariant failed;
4 inconclusive (a trial's own preconditions did not hold: rerun; or a --alarm stop
condition was in ALARM, so the run stopped before a fault); 5 interrupted (Ctrl-C,
SIGTERM as from ECS StopTask, SIGHUP or a closed output pipe ended the run early:
servers stopped, result.json partial with "complete": false and the trial cut
short named: rerun); 1 harness error.

--dry-run (--target ecs) checks the guardrails and the service, prints what each trial
would write and the exact state-changing AWS calls it would make, and changes nothing:
no load, no fault, no result file.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRun(cmd, args, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.save, "save", savepolicy.Default, "save rules at time scale 1, as in valkey.conf")
	f.Float64Var(&o.timeScale, "time-scale", 1, "multiply every rule's seconds by this (rates scale by 1/s); scheduled runs use 1")
	f.IntVar(&o.trials, "trials", 1, "repetitions of every trial")
	f.Int64Var(&o.seed, "seed", 1, "seed recorded with every trial")
	f.StringVar(&o.out, "out", "results", "directory that receives <run-id>/")
	f.StringVar(&o.runID, "run-id", "", "run id (default: time-based)")
	f.Int64Var(&o.keys, "keys", -1, "dataset keys to preload (default: the scenario's)")
	f.StringVar(&o.rate, "rate", "", "override the write rate, real time (e.g. 200/s)")
	f.DurationVar(&o.stopTimeout, "stop-timeout", 0, "SIGTERM-to-SIGKILL grace of the stop fault (default: the scenario's, else 30s)")
	f.DurationVar(&o.restartDelay, "restart-delay", 0, "wait before starting the replacement (local)")
	f.StringVar(&o.serverBin, "server-bin", "valkey-server", "server binary (valkey-server or redis-server)")
	f.StringVar(&o.replacement, "replacement-bin", "", "binary the replacement runs after the fault, on the same data: an upgrade or rollback drill (default: --server-bin)")
	f.IntVar(&o.port, "port", 0, "port for the local server (default: a free one)")
	f.StringArrayVar(&o.slos, "slo", nil, "SLO applied to every trial, e.g. loss_window<=65s, rto<=30s (repeatable)")
	f.StringVar(&o.targetKind, "target", "local", "where Valkey runs: local (a valkey-server this command starts) or ecs (a running ECS service)")
	f.BoolVar(&o.noReport, "no-report", false, "write result.json only")
	f.StringVar(&o.persistence, "persistence", "", "run every trial under this persistence strategy: rdb, none, aof-everysec, aof-always or rdb+aof (default: the scenario's, else rdb)")
	f.StringVar(&o.taskMemory, "task-memory", "", "hard memory limit of the server, as a task's (local: a memory cgroup), e.g. 512MiB")
	f.BoolVar(&o.keepData, "keep-data", false, "keep each trial's data directory in <run-id>/data/<trial>/ (and <trial>.at-fault/: what the replacement loaded), every dump checked by valkey-check-rdb when on PATH (local)")

	// ECS target; see docs/ecs.md.
	f.StringVar(&o.ecs.Cluster, "cluster", "", "ECS cluster name or ARN (--target ecs)")
	f.StringVar(&o.ecs.Service, "service", "", "ECS service name or ARN running the Valkey task (--target ecs)")
	f.StringVar(&o.ecs.Region, "region", "", "AWS region (default: the SDK's chain)")
	f.StringVar(&o.ecs.Profile, "profile", "", "AWS shared-config profile (default: the SDK's chain)")
	f.StringVar(&o.ecs.Endpoint, "endpoint", "", "host:port of Valkey, e.g. a service-discovery name (default: the task's private IP)")
	f.BoolVar(&o.ecs.AllowUntagged, "allow-untagged", false, "run against a service without the tag valkey-chaos=allowed")
	f.BoolVar(&o.ecs.DryRun, "dry-run", false, "print every state-changing AWS call instead of making it")
	f.StringArrayVar(&o.ecs.AlarmNames, "alarm", nil, "CloudWatch alarm checked before each fault; in ALARM the run aborts (repeatable)")
	f.DurationVar(&o.ecs.PollEvery, "poll-every", time.Second, "DescribeTasks polling interval")
	f.DurationVar(&o.ecs.Timeout, "ecs-timeout", 15*time.Minute, "bound on each wait on ECS (service settling, task stopping, replacement running)")
	o.conn.register(f)
	f.StringVar(&o.serverTLSCert, "server-tls-cert", "", "with --target local --tls: the server's certificate (PEM); --tls-ca is the CA that signed it")
	f.StringVar(&o.serverTLSKey, "server-tls-key", "", "with --target local --tls: the server's private key (PEM)")
	f.StringVar(&o.serverACL, "server-acl", "", `with --target local --user: the user's ACL rules, space separated (default "~* &* +@all"), e.g. the module's harness rules to rehearse with them`)
	f.StringVar(&o.publish, "publish", "", "on every exit once known, put Heartbeat, Outcome and (after a run) per-scenario metrics: cloudwatch or cloudwatch:NAMESPACE")
	return cmd
}

func runRun(cmd *cobra.Command, args []string, o runOpts) (err error) {
	ctx := cmd.Context()
	// Every exit from here on publishes Heartbeat and Outcome (--publish).
	pub, err := newPublisher(ctx, o, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	defer func() { err = pub.finish(ctx, err) }()
	in, err := validateRun(cmd.Flags(), args, o)
	if err != nil {
		return err
	}
	rules, rate, scens := in.rules, in.rate, in.scens
	if o.runID == "" {
		o.runID = newRunID()
	}
	outDir := filepath.Join(o.out, o.runID)
	conn, err := o.conn.settings(os.Getenv)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	tgt, info, err := openTarget(cmd, o, conn, outDir)
	if err != nil {
		return err
	}
	defer tgt.Close()
	if !o.ecs.DryRun { // a dry run writes no result
		// Created only now that every input and the target checked out, and
		// removed again if the run is refused before it writes a result.
		defer removeIfUnused(outDir, preexisting(outDir))
		if err := scenarios.PrepareOutDir(outDir); err != nil {
			return err
		}
	}
	where := tgt.Version()
	if info.Kind == "ecs" {
		where = fmt.Sprintf("ECS service %s in cluster %s", info.Service, info.Cluster)
	}
	fmt.Fprintf(w, "run %s: %s, save %q at time scale %g -> %q\n", o.runID, where, rules, o.timeScale, rules.Scale(o.timeScale))
	cfg := scenarios.Config{
		Conn:        conn,
		RunID:       o.runID,
		OutDir:      outDir,
		SaveReal:    rules,
		TimeScale:   o.timeScale,
		Trials:      o.trials,
		Seed:        o.seed,
		Keys:        o.keys,
		StopTimeout: o.stopTimeout,
		Rate:        rate,
		Persistence: in.persistence,
		TaskMemory:  in.taskMemory,
		SLOs:        o.slos,
		Target:      tgt,
		TargetInfo:  info,
		Progress:    w,
		Args:        os.Args[1:],
	}
	if o.ecs.DryRun {
		// No load and no fault: see scenarios.DryRun and docs/ecs.md.
		return scenarios.DryRun(ctx, cfg, scens)
	}
	run, runErr := scenarios.Run(ctx, cfg, scens)
	if pub != nil {
		pub.run = run // its per-trial metrics go with the outcome
	}
	return afterRun(cmd, o, outDir, run, runErr)
}

// afterRun renders the report of a run and returns what the exit code is
// made of: a failure found before a signal still exits 3. The metrics
// (--publish) go out after it, with the outcome (publisher.finish).
func afterRun(cmd *cobra.Command, o runOpts, outDir string, run *result.Run, runErr error) error {
	w := cmd.OutOrStdout()
	if run != nil && len(run.Trials) > 0 {
		_ = report.WriteSummary(w, run) // for the terminal; result.json is the record
		if !o.noReport {
			if err := report.Write(outDir, run); err != nil {
				return errors.Join(runErr, fmt.Errorf("render report: %w", err))
			}
			fmt.Fprintf(w, "report: %s\n", filepath.Join(outDir, "report.md"))
		}
		fmt.Fprintf(w, "result: %s\n", filepath.Join(outDir, result.FileName))
	}
	if runErr != nil {
		// A failure found before the run ended early still stands (exit 3).
		if run != nil {
			if out := judge.Outcome(run); errors.Is(out, result.ErrFailed) {
				return fmt.Errorf("%w; then %w", out, runErr)
			}
		}
		return runErr
	}
	return judge.Outcome(run)
}

// runTarget is a scenarios.Target that can name the server it runs.
type runTarget interface {
	scenarios.Target
	Version() string
}

// openTarget builds the --target; the returned info is echoed in result.json.
func openTarget(cmd *cobra.Command, o runOpts, conn valkeyconn.Settings, outDir string) (runTarget, result.Target, error) {
	ctx := cmd.Context()
	switch o.targetKind {
	case "local":
		if o.ecs.Cluster != "" || o.ecs.Service != "" {
			return nil, result.Target{}, fmt.Errorf("%w: --cluster/--service need --target ecs", result.ErrBadInput)
		}
		if o.ecs.DryRun || o.ecs.AllowUntagged || len(o.ecs.AlarmNames) > 0 {
			return nil, result.Target{}, fmt.Errorf("%w: --dry-run, --allow-untagged and --alarm are for --target ecs; the local target starts its own servers", result.ErrBadInput)
		}
		sec, err := localSecurity(o, conn)
		if err != nil {
			return nil, result.Target{}, err
		}
		cfg := local.Config{
			Security:     sec,
			ServerBin:    o.serverBin,
			Port:         o.port,
			LogDir:       filepath.Join(outDir, "logs"),
			StopTimeout:  o.stopTimeout,
			RestartDelay: o.restartDelay,
		}
		if o.keepData {
			cfg.WorkDir, cfg.KeepData = filepath.Join(outDir, "data"), true
		}
		cfg.ReplacementBin = o.replacement
		tgt, err := local.New(ctx, cfg)
		if err != nil {
			return nil, result.Target{}, err
		}
		return tgt, result.Target{Kind: "local", ServerVersion: tgt.Version(), ServerBin: tgt.Bin(), Storage: "local-disk"}, nil
	case "ecs":
		if cmd.Flags().Changed("server-bin") || cmd.Flags().Changed("replacement-bin") || cmd.Flags().Changed("port") || cmd.Flags().Changed("restart-delay") || o.keepData {
			return nil, result.Target{}, fmt.Errorf("%w: --server-bin, --replacement-bin, --port, --restart-delay and --keep-data are for --target local; ECS runs the task definition on EFS", result.ErrBadInput)
		}
		if o.serverTLSCert != "" || o.serverTLSKey != "" || o.serverACL != "" {
			return nil, result.Target{}, fmt.Errorf("%w: --server-tls-cert, --server-tls-key and --server-acl are for --target local; ECS runs the task definition's TLS and ACL users", result.ErrBadInput)
		}
		cfg := o.ecs
		cfg.Conn = conn
		cfg.Out = cmd.ErrOrStderr()
		tgt, err := ecs.New(ctx, cfg)
		if err != nil {
			return nil, result.Target{}, err
		}
		return tgt, result.Target{Kind: "ecs", Cluster: cfg.Cluster, Service: cfg.Service, Storage: "efs"}, nil
	}
	return nil, result.Target{}, fmt.Errorf("%w: --target %q: use local or ecs", result.ErrBadInput, o.targetKind)
}

func newRunID() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}
