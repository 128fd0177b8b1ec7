package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/efs"
	"github.com/trigpointing/valkey-chaos/result"
)

func newEFSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "efs",
		Short: "Mount a directory through an EFS-like FUSE file system and inject storage faults",
		Long: `An EFS-like file system for local runs: throughput modes (bursting with a
credit balance, elastic, provisioned), NFS-like request latency, and faults
(eio, enospc, stall, slow, torn) injected into a running mount through its
control socket. FUSE here is slower than EFS's burst rate; 'efs stats' says
when the emulator, not the modelled EFS, was the bottleneck.`,
	}
	cmd.AddCommand(newEFSMountCmd(), newEFSFaultCmd(), newEFSLiftCmd(), newEFSStatsCmd(), newEFSDropUnsyncedCmd(), newEFSCleanupCmd())
	return cmd
}

// efsConfigFlags maps mount flags to efs.ParseConfig keys; the values pass
// through as typed, so parsing and validation live in package efs.
var efsConfigFlags = []struct{ flag, key, usage string }{
	{"mibps", "mibps", "provisioned throughput, MiB/s"},
	{"credits", "credits", "starting burst credit balance, bytes (e.g. 1GiB, 64MiB; default 2.1TiB)"},
	{"stored", "stored", "stored bytes that set the bursting baseline, 50 KiB/s per GiB (default: size of SRC)"},
	{"burst-mibps", "burst_mibps", "bursting rate while credits last, MiB/s (default 100)"},
	{"client-mibps", "client_mibps", "per-client cap, MiB/s (default 500, elastic 1500)"},
	{"read-metering", "read_metering", "share of read bytes metered (default 1/3; elastic 1)"},
	{"read-latency", "read_latency", "latency per read request of up to 1 MiB (default 425us)"},
	{"write-latency", "write_latency", "latency per write request of up to 1 MiB (default 2.7ms)"},
	{"jitter", "jitter", "latency spread, fraction (default 0.4)"},
}

func newEFSMountCmd() *cobra.Command {
	var mode, control string
	values := make([]string, len(efsConfigFlags))
	cmd := &cobra.Command{
		Use:   "mount SRC MNT",
		Short: "Serve SRC at MNT in the foreground until Ctrl-C, then unmount",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			params := map[string]string{"mode": mode}
			for i, f := range efsConfigFlags {
				if cmd.Flags().Changed(f.flag) {
					params[f.key] = values[i]
				}
			}
			cfg, err := efs.ParseConfig(params)
			if err != nil {
				return fmt.Errorf("%w: %w", result.ErrBadInput, err)
			}
			out := cmd.OutOrStdout()
			var mounted *efs.FS
			err = efs.Run(cmd.Context(), args[0], args[1], cfg, control, func(f *efs.FS) {
				mounted = f
				fmt.Fprintf(out, "efs: serving %s at %s\nefs: %s\n", f.Source(), f.MountPoint(), f.Config())
				if control != "" {
					fmt.Fprintf(out, "efs: control socket %s (valkey-chaos efs fault|lift|stats --control %s)\n", control, control)
				}
				fmt.Fprintln(out, "efs: Ctrl-C unmounts")
			})
			if mounted != nil {
				fmt.Fprintf(out, "efs: unmounted %s\n%s", mounted.MountPoint(), mounted.Stats())
			}
			return err
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&mode, "mode", "bursting", "throughput mode: bursting, elastic, provisioned or unlimited")
	flags.StringVar(&control, "control", "", "serve a control socket at this path for efs fault/lift/stats")
	for i, f := range efsConfigFlags {
		flags.StringVar(&values[i], f.flag, "", f.usage)
	}
	return cmd
}

func newEFSFaultCmd() *cobra.Command {
	var control, glob, ops string
	var rate, keep float64
	cmd := &cobra.Command{
		Use:   "fault --control SOCKET eio|enospc|stall|slow|torn",
		Short: "Inject a fault into a running mount; prints its id",
		Example: `  valkey-chaos efs fault --control /tmp/efs.sock eio --path 'temp-*.rdb' --ops write
  valkey-chaos efs fault --control /tmp/efs.sock stall
  valkey-chaos efs fault --control /tmp/efs.sock slow --mibps 1
  valkey-chaos efs fault --control /tmp/efs.sock torn --path dump.rdb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind, err := efs.ParseFaultKind(args[0])
			if err != nil {
				return fmt.Errorf("%w: %w", result.ErrBadInput, err)
			}
			opList, err := efs.ParseOps(ops)
			if err != nil {
				return fmt.Errorf("%w: %w", result.ErrBadInput, err)
			}
			fault := efs.Fault{Kind: kind, PathGlob: glob, Ops: opList, SlowMiBps: rate, TornKeep: keep}
			id, err := efs.NewClient(control).Inject(cmd.Context(), fault)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), id)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&control, "control", "", "control socket of the running mount (required)")
	flags.StringVar(&glob, "path", "", "glob on the path in the mount; without '/' it matches base names (default: every file)")
	flags.StringVar(&ops, "ops", "", "comma-separated operations: read,write,fsync,create,rename,open (default: all the kind applies to)")
	flags.Float64Var(&rate, "mibps", 0, "rate a slow fault allows, MiB/s")
	flags.Float64Var(&keep, "keep", 0, "fraction of the file a torn rename keeps (default 0.5)")
	cmd.MarkFlagRequired("control")
	return cmd
}

func newEFSLiftCmd() *cobra.Command {
	var control string
	cmd := &cobra.Command{
		Use:   "lift --control SOCKET ID|all",
		Short: "Lift one fault, or all of them, on a running mount",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client := efs.NewClient(control)
			if strings.EqualFold(args[0], "all") {
				n, err := client.LiftAll(cmd.Context())
				if err == nil {
					fmt.Fprintf(cmd.OutOrStdout(), "lifted %d\n", n)
				}
				return err
			}
			id, err := strconv.Atoi(args[0])
			if err != nil {
				return fmt.Errorf("%w: fault id %q: pass the number 'efs fault' printed, or all", result.ErrBadInput, args[0])
			}
			return client.Lift(cmd.Context(), id)
		},
	}
	cmd.Flags().StringVar(&control, "control", "", "control socket of the running mount (required)")
	cmd.MarkFlagRequired("control")
	return cmd
}

func newEFSStatsCmd() *cobra.Command {
	var control string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --control SOCKET",
		Short: "Show a running mount's throughput, credits, faults and bottleneck verdict",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			stats, err := efs.NewClient(control).Stats(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(stats)
			}
			fmt.Fprint(cmd.OutOrStdout(), stats)
			return nil
		},
	}
	cmd.Flags().StringVar(&control, "control", "", "control socket of the running mount (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.MarkFlagRequired("control")
	return cmd
}

func newEFSDropUnsyncedCmd() *cobra.Command {
	var control string
	cmd := &cobra.Command{
		Use:   "drop-unsynced --control SOCKET",
		Short: "Revert every file to its last fsync, as when the host dies with unflushed pages (run after killing the server)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := efs.NewClient(control).DropUnsynced(cmd.Context())
			if err != nil {
				return err
			}
			for _, f := range rep.Files {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d -> %d bytes (%d restored)\n", f.Path, f.SizeBefore, f.SizeAfter, f.Restored)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "dropped %d bytes in %d files\n", rep.Bytes, len(rep.Files))
			return nil
		},
	}
	cmd.Flags().StringVar(&control, "control", "", "control socket of the running mount (required)")
	cmd.MarkFlagRequired("control")
	return cmd
}

func newEFSCleanupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleanup MNT",
		Short: "Clear a stale FUSE mount a killed 'efs mount' left at MNT",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return efs.CleanupStale(args[0])
		},
	}
}
