package savepolicy

import (
	"math"
	"testing"
	"time"
)

// TestElasticCostOfFACTSExample: FACTS.md §7.39, a 114 MB snapshot every
// 61 s is about 160 GB/day, roughly $9.6/day on Elastic at $0.06/GB.
func TestElasticCostOfFACTSExample(t *testing.T) {
	st := Storage{Mode: Elastic, Prices: DefaultPrices()}
	c := st.DailyCost(114e6, 86400/61.0, 0)
	if gbDay := c.WriteBytesPerDay / 1e9; math.Abs(gbDay-160) > 3 {
		t.Errorf("%.1f GB/day written, want about 160", gbDay)
	}
	if math.Abs(c.WriteUSD-9.6) > 0.2 {
		t.Errorf("$%.2f/day of Elastic writes, want about $9.6", c.WriteUSD)
	}
	if want := 0.114 * 0.30 / (365.0 / 12); math.Abs(c.StorageUSD-want) > 1e-9 {
		t.Errorf("storage $%.5f/day, want $%.5f (114 MB at $0.30/GB-month)", c.StorageUSD, want)
	}
	if c.TotalUSD != c.WriteUSD+c.StorageUSD {
		t.Errorf("total %v is not writes + storage with no reads", c.TotalUSD)
	}
	reads := st.DailyCost(114e6, 0, 10)
	if math.Abs(reads.ReadUSD-1.14*0.03) > 1e-9 {
		t.Errorf("10 loads of 114 MB cost $%.4f in reads, want $%.4f", reads.ReadUSD, 1.14*0.03)
	}
}

func TestModesChargeDifferently(t *testing.T) {
	p := DefaultPrices()
	bursting := Storage{Mode: Bursting, Prices: p}.DailyCost(114e6, 1000, 1)
	if bursting.WriteUSD != 0 || bursting.ReadUSD != 0 || bursting.ProvisionedUSD != 0 {
		t.Errorf("Bursting charges only storage, got %+v", bursting)
	}
	prov := Storage{Mode: Provisioned, ProvisionedMiBps: 10, Prices: p}.DailyCost(114e6, 1000, 1)
	if want := 10 * 6.0 / (365.0 / 12); math.Abs(prov.ProvisionedUSD-want) > 1e-9 || prov.WriteUSD != 0 {
		t.Errorf("Provisioned 10 MiB/s: %+v, want $%.3f/day of throughput and no per-GB charge", prov, want)
	}
}

// TestBurstingCredits: a small file system's baseline is 50 KiB/s (1 GiB
// floor), so a 114 MB RDB saved every 61 s drains the credits, and once they
// are gone one save takes about 38 minutes (FACTS.md §5.27).
func TestBurstingCredits(t *testing.T) {
	st := Storage{Mode: Bursting, Prices: DefaultPrices()}
	b := st.Bursting(114e6, 86400/61.0, 0)
	if b.BaselineBytesPerS != 50*1024 {
		t.Errorf("baseline %v B/s, want 51200 (1 GiB floor)", b.BaselineBytesPerS)
	}
	if b.Sustainable {
		t.Fatalf("%+v: a save every 61 s cannot be sustainable on the baseline", b)
	}
	if want := BurstCreditCap / (b.DemandBytesPerS*86400 - b.BaselineBytesPerS*86400); math.Abs(b.DaysFromFull-want) > 1e-9 {
		t.Errorf("a full balance lasts %.2f days, want %.2f", b.DaysFromFull, want)
	}
	if m := b.SaveAtBaseline.Minutes(); m < 35 || m > 40 {
		t.Errorf("a save at baseline takes %.1f min, want about 38", m)
	}
	// Padding the file system to the size the report names carries the load.
	padded := Storage{Mode: Bursting, StoredBytes: int64(b.StoredBytesNeeded) + 1, Prices: DefaultPrices()}.Bursting(114e6, 86400/61.0, 0)
	if !padded.Sustainable {
		t.Errorf("with %.0f bytes stored the baseline should carry the demand: %+v", b.StoredBytesNeeded, padded)
	}
	idle := st.Bursting(114e6, 10, 0)
	if !idle.Sustainable || idle.NetBytesPerDay <= 0 {
		t.Errorf("10 saves/day of 114 MB is under 4.4 GB/day: %+v", idle)
	}
	reads := st.Bursting(114e6, 0, 3)
	if math.Abs(reads.DemandBytesPerS-114e6/86400) > 1e-6 {
		t.Errorf("3 loads a day meter as one (reads at 1:3): demand %v B/s", reads.DemandBytesPerS)
	}
}

func TestSaveDurationFromThroughput(t *testing.T) {
	if got := SaveDuration(100<<20, 25); got != 4*time.Second {
		t.Errorf("100 MiB at 25 MiB/s took %v, want 4s", got)
	}
	tests := []struct {
		st   Storage
		want float64
	}{
		{Storage{Mode: Elastic}, DefaultSaveMiBps},
		{Storage{Mode: Bursting, SaveMiBps: 400}, BurstMiBps},
		{Storage{Mode: Provisioned, SaveMiBps: 400, ProvisionedMiBps: 50}, 50},
		{Storage{Mode: Elastic, SaveMiBps: 5000}, ElasticClientMiBps},
	}
	for _, tc := range tests {
		if got := tc.st.WriteMiBps(); got != tc.want {
			t.Errorf("%+v writes at %v MiB/s, want %v", tc.st, got, tc.want)
		}
	}
}
