package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trigpointing/valkey-chaos/scenarios"
)

func newScenariosCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "scenarios",
		Short: "List the scenario catalog, one line each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := scenarios.Catalog()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			for _, s := range list {
				fmt.Fprintf(w, "%-22s %-28s %s\n", s.Name, "["+strings.Join(s.Faults, ",")+"]", s.Description)
			}
			return nil
		},
	}
}
