package efs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mode is an EFS throughput mode, plus Unlimited for measuring the emulator
// itself.
type Mode string

const (
	// Bursting bursts at BurstMiBps while the credit balance lasts, then runs
	// at the baseline of 50 KiB/s per GiB stored (1 GiB floor).
	Bursting Mode = "bursting"
	// Elastic has no practical file-system limit; one client gets at most
	// ClientLimitMiBps (1500 MiB/s).
	Elastic Mode = "elastic"
	// Provisioned runs at ProvisionedMiBps whatever the size.
	Provisioned Mode = "provisioned"
	// Unlimited applies no throughput limit: what FUSE alone costs.
	Unlimited Mode = "unlimited"
)

// Modes lists every mode, for flag help and validation.
var Modes = []Mode{Bursting, Elastic, Provisioned, Unlimited}

// EFS figures (FACTS.md §7).
const (
	// DefaultBurstMiBps is what every bursting file system may burst to.
	DefaultBurstMiBps = 100
	// BaselineKiBpsPerGiB is the bursting baseline per GiB stored.
	BaselineKiBpsPerGiB = 50
	// DefaultCredits is the balance of a new file system (and the cap below
	// 1 TiB stored): 2.1 TiB.
	DefaultCredits = int64(21 * (1 << 40) / 10)
	// ElasticClientMiBps and ClientMiBps are the per-client ceilings.
	ElasticClientMiBps = 1500
	ClientMiBps        = 500
	// DefaultReadLatency and DefaultWriteLatency are the mean latencies of one
	// NFS request of up to 1 MiB; DefaultJitter spreads them uniformly by ±40%
	// (reads then fall between about 0.25 and 0.6 ms).
	DefaultReadLatency  = 425 * time.Microsecond
	DefaultWriteLatency = 2700 * time.Microsecond
	DefaultJitter       = 0.4
	// NFSRequestBytes is the rsize/wsize the EFS mount helper uses: one
	// latency is charged per started MiB of a request.
	NFSRequestBytes = 1 << 20
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// Config is what one mount models. Start from DefaultConfig: zero values are
// taken literally (zero latency, an empty credit balance).
type Config struct {
	Mode Mode
	// ProvisionedMiBps is the provisioned rate (provisioned mode only).
	ProvisionedMiBps float64
	// BurstMiBps is the bursting rate while credits last (bursting only).
	BurstMiBps float64
	// CreditBytes is the starting burst credit balance (bursting only).
	CreditBytes int64
	// MaxCreditBytes caps the balance as it is earned back; 0 means DefaultCredits.
	MaxCreditBytes int64
	// StoredBytes sets the bursting baseline (50 KiB/s per GiB, 1 GiB floor);
	// 0 means the size of the source directory at mount time.
	StoredBytes int64
	// ClientLimitMiBps caps any mode's rate for one client; 0 means the EFS
	// per-client limit of the mode (1500 MiB/s elastic, 500 otherwise).
	ClientLimitMiBps float64
	// ReadMetering is the share of read bytes counted against the limit and
	// the credits: EFS meters reads at one third in bursting and provisioned
	// mode. 1 makes reads cost as much as writes.
	ReadMetering float64
	// ReadLatency and WriteLatency are added per NFS-sized request (≤1 MiB);
	// metadata operations pay one write (create, rename, unlink, mkdir, fsync)
	// or read (open) latency.
	ReadLatency, WriteLatency time.Duration
	// Jitter spreads each latency uniformly by ± this fraction (0 to 1).
	Jitter float64

	// AccessPointUID, when set, enforces an access point's POSIX user
	// (access.go): every request acts as this uid and gid. Nil: requests
	// act as their callers, whose permissions are checked (NFS AUTH_SYS).
	AccessPointUID *int
}

// DefaultConfig returns the EFS figures for mode: a new file system's full
// credit balance, per-client limits, reads metered at one third where EFS does
// so, and EFS latencies (none for Unlimited). Provisioned mode still needs
// ProvisionedMiBps.
func DefaultConfig(mode Mode) Config {
	c := Config{
		Mode:         mode,
		ReadLatency:  DefaultReadLatency,
		WriteLatency: DefaultWriteLatency,
		Jitter:       DefaultJitter,
		ReadMetering: 1.0 / 3,
	}
	switch mode {
	case Bursting:
		c.BurstMiBps = DefaultBurstMiBps
		c.CreditBytes = DefaultCredits
		c.MaxCreditBytes = DefaultCredits
	case Elastic:
		c.ReadMetering = 1
	case Unlimited:
		c.ReadMetering = 1
		c.ReadLatency, c.WriteLatency, c.Jitter = 0, 0, 0
	}
	return c
}

// ParseMode accepts a mode name, with or without the "efs-" prefix that
// scenario specs use (efs-bursting).
func ParseMode(s string) (Mode, error) {
	name := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "efs-")
	for _, m := range Modes {
		if string(m) == name {
			return m, nil
		}
	}
	return "", fmt.Errorf("unknown EFS mode %q: use bursting, elastic, provisioned or unlimited", s)
}

// configKeys documents the keys ParseConfig accepts.
var configKeys = map[string]string{
	"mode":          "bursting|elastic|provisioned|unlimited (efs- prefix allowed)",
	"mibps":         "provisioned MiB/s",
	"burst_mibps":   "bursting rate while credits last, MiB/s",
	"credits":       "starting burst credits, bytes (1GiB, 512MiB, 0)",
	"max_credits":   "credit cap, bytes",
	"stored":        "stored bytes that set the bursting baseline (20GiB)",
	"client_mibps":  "per-client cap, MiB/s",
	"read_metering": "share of read bytes metered (1/3, 0.5, 1)",
	"read_latency":  "per-request read latency (425us, 0)",
	"write_latency": "per-request write latency (2.7ms, 0)",
	"jitter":        "latency spread, fraction (0.4)",
}

// ConfigKeys lists the keys ParseConfig accepts, sorted, for help text.
func ConfigKeys() []string {
	keys := make([]string, 0, len(configKeys))
	for k, help := range configKeys {
		keys = append(keys, k+": "+help)
	}
	sort.Strings(keys)
	return keys
}

// ParseConfig builds a Config from string parameters, as a scenario spec's
// storage block or CLI flags give them: {"mode": "bursting", "credits":
// "1GiB"}. Keys not given keep DefaultConfig's value for the mode.
func ParseConfig(params map[string]string) (Config, error) {
	modeText, ok := params["mode"]
	if !ok {
		return Config{}, fmt.Errorf("storage parameters need a mode (bursting, elastic, provisioned or unlimited)")
	}
	mode, err := ParseMode(modeText)
	if err != nil {
		return Config{}, err
	}
	c := DefaultConfig(mode)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := strings.TrimSpace(params[k])
		var err error
		switch k {
		case "mode":
		case "mibps":
			c.ProvisionedMiBps, err = parsePositive(v)
		case "burst_mibps":
			c.BurstMiBps, err = parsePositive(v)
		case "client_mibps":
			c.ClientLimitMiBps, err = parsePositive(v)
		case "credits":
			c.CreditBytes, err = ParseBytes(v)
		case "max_credits":
			c.MaxCreditBytes, err = ParseBytes(v)
		case "stored":
			c.StoredBytes, err = ParseBytes(v)
		case "read_metering":
			c.ReadMetering, err = parseFraction(v)
		case "read_latency":
			c.ReadLatency, err = parseLatency(v)
		case "write_latency":
			c.WriteLatency, err = parseLatency(v)
		case "jitter":
			c.Jitter, err = parseFraction(v)
		case "access_point_uid":
			c.AccessPointUID, err = parseUID(v)
		default:
			return Config{}, fmt.Errorf("unknown storage parameter %q: use one of %s", k, strings.Join(ConfigKeys(), "; "))
		}
		if err != nil {
			return Config{}, fmt.Errorf("storage parameter %s=%q: %w", k, v, err)
		}
	}
	if err := c.validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parsePositive(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a positive number")
	}
	return v, nil
}

// parseFraction reads "0.5" or "1/3" as a number in [0, 1].
func parseFraction(s string) (float64, error) {
	var v float64
	if num, den, ok := strings.Cut(s, "/"); ok {
		n, err1 := strconv.ParseFloat(num, 64)
		d, err2 := strconv.ParseFloat(den, 64)
		if err1 != nil || err2 != nil || d == 0 {
			return 0, fmt.Errorf("want a fraction like 1/3 or 0.5")
		}
		v = n / d
	} else {
		var err error
		if v, err = strconv.ParseFloat(s, 64); err != nil {
			return 0, fmt.Errorf("want a fraction like 1/3 or 0.5")
		}
	}
	if !(v >= 0 && v <= 1) {
		return 0, fmt.Errorf("want a fraction between 0 and 1")
	}
	return v, nil
}

func parseLatency(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("want a duration like 425us or 2.7ms")
	}
	return d, nil
}

var byteUnits = []struct {
	suffix string
	scale  float64
}{
	{"kib", kib}, {"mib", mib}, {"gib", gib}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", kib}, {"m", mib}, {"g", gib}, {"t", 1 << 40},
	{"b", 1},
}

// ParseBytes reads a byte count: "1048576", "512MiB", "1.5GiB", "100MB" (SI),
// "2T" (binary).
func ParseBytes(s string) (int64, error) {
	text := strings.ToLower(strings.TrimSpace(s))
	scale := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(text, u.suffix) {
			text, scale = strings.TrimSpace(strings.TrimSuffix(text, u.suffix)), u.scale
			break
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) || v*scale > math.MaxInt64/2 {
		return 0, fmt.Errorf("bad byte count %q: want e.g. 1048576, 512MiB, 1.5GiB or 100MB", s)
	}
	return int64(v * scale), nil
}

func (c Config) validate() error {
	switch c.Mode {
	case Bursting:
		if !(c.BurstMiBps > 0) {
			return fmt.Errorf("bursting mode needs a burst rate above 0 MiB/s (start from efs.DefaultConfig)")
		}
		if c.CreditBytes < 0 || c.MaxCreditBytes < 0 || c.StoredBytes < 0 {
			return fmt.Errorf("credits and stored bytes cannot be negative")
		}
	case Provisioned:
		if !(c.ProvisionedMiBps > 0) {
			return fmt.Errorf("provisioned mode needs a rate: set mibps (e.g. --mibps 5)")
		}
	case Elastic, Unlimited:
	default:
		_, err := ParseMode(string(c.Mode))
		return err
	}
	if c.ClientLimitMiBps < 0 {
		return fmt.Errorf("client limit cannot be negative")
	}
	if !(c.ReadMetering >= 0 && c.ReadMetering <= 1) {
		return fmt.Errorf("read metering %v is not a fraction between 0 and 1", c.ReadMetering)
	}
	if c.ReadLatency < 0 || c.WriteLatency < 0 {
		return fmt.Errorf("latencies cannot be negative")
	}
	if !(c.Jitter >= 0 && c.Jitter <= 1) {
		return fmt.Errorf("jitter %v is not a fraction between 0 and 1", c.Jitter)
	}
	return nil
}

// resolve fills what depends on the mount: the stored size from the source
// directory and the mode's per-client limit.
func (c Config) resolve(src string) (Config, error) {
	if err := c.validate(); err != nil {
		return c, err
	}
	c.ClientLimitMiBps = c.clientLimitMiBps()
	if c.Mode == Bursting {
		if c.MaxCreditBytes == 0 {
			c.MaxCreditBytes = DefaultCredits
		}
		if c.StoredBytes == 0 {
			size, err := dirSize(src)
			if err != nil {
				return c, fmt.Errorf("measure stored bytes for the bursting baseline: %w", err)
			}
			c.StoredBytes = size
		}
	}
	return c, nil
}

// clientLimitMiBps is the per-client cap in force: the configured one, or
// EFS's for the mode.
func (c Config) clientLimitMiBps() float64 {
	switch {
	case c.ClientLimitMiBps > 0:
		return c.ClientLimitMiBps
	case c.Mode == Elastic:
		return ElasticClientMiBps
	}
	return ClientMiBps
}

// BaselineBytesPerSec is the bursting baseline for the stored size: 50 KiB/s
// per GiB, with a 1 GiB floor.
func (c Config) BaselineBytesPerSec() float64 {
	stored := max(float64(c.StoredBytes), gib)
	return BaselineKiBpsPerGiB * kib * stored / gib
}

// String is one line for logs and the CLI.
func (c Config) String() string {
	lat := fmt.Sprintf("latency read %v write %v ±%.0f%%", c.ReadLatency, c.WriteLatency, c.Jitter*100)
	switch c.Mode {
	case Bursting:
		return fmt.Sprintf("bursting: %.0f MiB/s while %s of credits last, then %.1f KiB/s baseline for %s stored; reads metered at %.2f; %s",
			c.BurstMiBps, FormatBytes(c.CreditBytes), c.BaselineBytesPerSec()/kib, FormatBytes(c.StoredBytes), c.ReadMetering, lat)
	case Provisioned:
		return fmt.Sprintf("provisioned: %g MiB/s; reads metered at %.2f; %s", c.ProvisionedMiBps, c.ReadMetering, lat)
	case Elastic:
		return fmt.Sprintf("elastic: per-client limit %g MiB/s; %s", c.ClientLimitMiBps, lat)
	}
	return fmt.Sprintf("%s: no throughput limit; %s", c.Mode, lat)
}

// FormatBytes prints a byte count in binary units.
func FormatBytes(n int64) string {
	v := float64(n)
	for _, u := range []struct {
		name  string
		scale float64
	}{{"TiB", 1 << 40}, {"GiB", gib}, {"MiB", mib}, {"KiB", kib}} {
		if math.Abs(v) >= u.scale {
			return strconv.FormatFloat(v/u.scale, 'f', 1, 64) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " B"
}

func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}
