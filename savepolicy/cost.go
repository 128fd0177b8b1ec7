package savepolicy

import (
	"math"
	"strings"
	"time"
)

// ThroughputMode is an EFS throughput mode.
type ThroughputMode string

// The EFS throughput modes (FACTS.md §7).
const (
	Bursting    ThroughputMode = "bursting"
	Elastic     ThroughputMode = "elastic"
	Provisioned ThroughputMode = "provisioned"
)

// EFS limits (FACTS.md §7.35-36).
const (
	mib = 1 << 20
	gib = 1 << 30
	tib = 1 << 40
	// BurstMiBps is what every Bursting file system may burst to.
	BurstMiBps = 100
	// BaselineKiBpsPerGiB is Bursting's baseline per GiB stored (1 GiB floor).
	BaselineKiBpsPerGiB = 50
	// BurstCreditCap is the credit balance cap below 1 TiB stored; new file
	// systems start full.
	BurstCreditCap = 2.1 * tib
	// ReadMetering: Bursting meters reads at one third.
	ReadMetering = 1.0 / 3
	// ElasticClientMiBps and ProvisionedClientMiBps are per-client ceilings.
	ElasticClientMiBps     = 1500
	ProvisionedClientMiBps = 500
	// DefaultSaveMiBps is the rate a save writes the RDB at when not told:
	// Valkey's own serialisation on 2 vCPU (FACTS.md §5: 114 MB in 2.4-5 s),
	// below every EFS mode's ceiling.
	DefaultSaveMiBps = 25
	daysPerMonth     = 365.0 / 12
	gb               = 1e9 // AWS prices per GB; decimal here, so figures err high by up to 7% if billed per GiB
)

// ParseThroughputMode accepts bursting, elastic or provisioned.
func ParseThroughputMode(s string) (ThroughputMode, error) {
	switch m := ThroughputMode(strings.ToLower(strings.TrimSpace(s))); m {
	case Bursting, Elastic, Provisioned:
		return m, nil
	}
	return "", badInput("throughput mode %q: use bursting, elastic or provisioned", s)
}

// Prices are EFS list prices in USD (us-east-1, FACTS.md §7.39, except
// Provisioned, which FACTS.md does not give: AWS's list price at the time
// of writing). Override them with the CLI flags for another region.
type Prices struct {
	StorageGBMonth        float64 // Standard storage
	ElasticWriteGB        float64 // Elastic throughput: data written
	ElasticReadGB         float64 // Elastic throughput: data read
	ProvisionedMiBpsMonth float64 // Provisioned throughput
}

// DefaultPrices are the us-east-1 list prices.
func DefaultPrices() Prices {
	return Prices{StorageGBMonth: 0.30, ElasticWriteGB: 0.06, ElasticReadGB: 0.03, ProvisionedMiBpsMonth: 6.00}
}

// Storage is where the RDB lives and how fast a save writes it.
type Storage struct {
	Mode ThroughputMode
	// SaveMiBps is the rate a save writes the RDB: the lower of the storage
	// throughput and Valkey's serialisation speed (default DefaultSaveMiBps).
	SaveMiBps float64
	// ProvisionedMiBps is the provisioned throughput (Provisioned mode).
	ProvisionedMiBps float64
	// StoredBytes is the file system's size, which sets Bursting's baseline
	// (0: the RDB alone).
	StoredBytes int64
	Prices      Prices
}

// WriteMiBps is the rate a save writes at while the mode allows its peak.
func (st Storage) WriteMiBps() float64 {
	rate := st.SaveMiBps
	if rate <= 0 {
		rate = DefaultSaveMiBps
	}
	switch st.Mode {
	case Bursting:
		rate = math.Min(rate, BurstMiBps)
	case Elastic:
		rate = math.Min(rate, ElasticClientMiBps)
	case Provisioned:
		if st.ProvisionedMiBps > 0 {
			rate = math.Min(rate, st.ProvisionedMiBps)
		}
		rate = math.Min(rate, ProvisionedClientMiBps)
	}
	return rate
}

// BaselineBytesPerS is Bursting's sustained throughput for this size.
func (st Storage) BaselineBytesPerS(rdbBytes int64) float64 {
	stored := float64(max(st.StoredBytes, rdbBytes))
	return BaselineKiBpsPerGiB * 1024 * math.Max(stored/gib, 1)
}

// SaveDuration is how long writing bytes takes at MiBps.
func SaveDuration(bytes int64, mibps float64) time.Duration {
	if bytes <= 0 || mibps <= 0 {
		return 0
	}
	return seconds(float64(bytes) / (mibps * mib))
}

// Cost is what persistence costs per day on EFS, and per month (an average
// month, 365/12 days: what people budget in).
type Cost struct {
	WriteBytesPerDay float64 `json:"write_bytes_per_day"`
	ReadBytesPerDay  float64 `json:"read_bytes_per_day"`
	StorageUSD       float64 `json:"storage_usd_per_day"`
	WriteUSD         float64 `json:"elastic_write_usd_per_day"`
	ReadUSD          float64 `json:"elastic_read_usd_per_day"`
	ProvisionedUSD   float64 `json:"provisioned_usd_per_day"`
	TotalUSD         float64 `json:"total_usd_per_day"`
	TotalUSDPerMonth float64 `json:"total_usd_per_month"`
}

// DailyCost prices savesPerDay snapshots of rdbBytes and restartsPerDay loads
// of it. Storage counts the RDB (or StoredBytes when larger); Elastic charges
// for bytes moved, Provisioned for the throughput, Bursting for neither.
func (st Storage) DailyCost(rdbBytes int64, savesPerDay, restartsPerDay float64) Cost {
	return st.costFor(float64(rdbBytes)*savesPerDay, float64(rdbBytes)*restartsPerDay, float64(rdbBytes))
}

// costFor prices bytes written and read per day with storedBytes on the file
// system (or StoredBytes when larger).
func (st Storage) costFor(writeBytesPerDay, readBytesPerDay, storedBytes float64) Cost {
	c := Cost{WriteBytesPerDay: writeBytesPerDay, ReadBytesPerDay: readBytesPerDay}
	stored := math.Max(float64(st.StoredBytes), storedBytes)
	c.StorageUSD = stored / gb * st.Prices.StorageGBMonth / daysPerMonth
	switch st.Mode {
	case Elastic:
		c.WriteUSD = c.WriteBytesPerDay / gb * st.Prices.ElasticWriteGB
		c.ReadUSD = c.ReadBytesPerDay / gb * st.Prices.ElasticReadGB
	case Provisioned:
		c.ProvisionedUSD = st.ProvisionedMiBps * st.Prices.ProvisionedMiBpsMonth / daysPerMonth
	}
	c.TotalUSD = c.StorageUSD + c.WriteUSD + c.ReadUSD + c.ProvisionedUSD
	c.TotalUSDPerMonth = c.TotalUSD * daysPerMonth
	return c
}

// Burst is the Bursting credit account for a steady snapshot schedule.
type Burst struct {
	BaselineBytesPerS float64 `json:"baseline_bytes_per_s"`
	// DemandBytesPerS is the metered average: writes plus a third of reads.
	DemandBytesPerS float64 `json:"demand_bytes_per_s"`
	Sustainable     bool    `json:"sustainable"`
	// NetBytesPerDay is the credit balance's change over a day (negative:
	// draining), before the cap.
	NetBytesPerDay float64 `json:"net_credit_bytes_per_day"`
	// DaysFromFull is how long a full balance (2.1 TiB) lasts; 0 when
	// sustainable (it lasts forever).
	DaysFromFull float64 `json:"days_from_full,omitempty"`
	// SaveAtBaseline is one save's duration once the credits are gone.
	SaveAtBaseline time.Duration `json:"-"`
	// StoredBytesNeeded is the file system size whose baseline would carry
	// the demand (padding EFS with data raises the baseline).
	StoredBytesNeeded float64 `json:"stored_bytes_needed"`
}

// Bursting accounts the credits for savesPerDay snapshots and
// restartsPerDay loads of rdbBytes: credits accrue at the baseline and drain
// at the metered throughput. Valid for Bursting mode only.
func (st Storage) Bursting(rdbBytes int64, savesPerDay, restartsPerDay float64) Burst {
	b := Burst{BaselineBytesPerS: st.BaselineBytesPerS(rdbBytes)}
	b.DemandBytesPerS = float64(rdbBytes) * (savesPerDay + restartsPerDay*ReadMetering) / 86400
	b.NetBytesPerDay = (b.BaselineBytesPerS - b.DemandBytesPerS) * 86400
	b.Sustainable = b.NetBytesPerDay >= 0
	if !b.Sustainable {
		b.DaysFromFull = BurstCreditCap / -b.NetBytesPerDay
	}
	b.SaveAtBaseline = seconds(float64(rdbBytes) / b.BaselineBytesPerS)
	b.StoredBytesNeeded = b.DemandBytesPerS / (BaselineKiBpsPerGiB * 1024) * gib
	return b
}
