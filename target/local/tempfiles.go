package local

import (
	"fmt"
	"os"
	"path/filepath"
)

// staleTempFiles lists temp-*.rdb files: a save killed mid-way leaves them,
// and nothing removes them on restart (FACTS.md §2.16).
func staleTempFiles(dir string) ([]string, int64, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "temp-*.rdb"))
	if err != nil {
		return nil, 0, fmt.Errorf("list temp files in %s: %w", dir, err)
	}
	var names []string
	var total int64
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			continue
		}
		names = append(names, filepath.Base(m))
		total += st.Size()
	}
	return names, total, nil
}
