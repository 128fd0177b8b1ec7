package efs

import (
	"sync"
	"time"
)

// pacer is a reservation-style token bucket kept as a virtual clock (GCRA):
// tat is when everything reserved so far will have gone through at the
// limit. A reservation never fails; it says how long the caller must wait.
// Each reservation carries its own service time, so a rate change (bursting
// running out of credits) applies to later requests only.
type pacer struct {
	tat time.Time
	// tolerance is how far ahead of the virtual clock a request may run
	// without waiting: the burst the bucket holds, in time.
	tolerance time.Duration
	// saturated is the time the pacer spent holding requests back (the union
	// of waits), so Stats can tell a binding limit from a slow emulator.
	saturated      time.Duration
	saturatedUntil time.Time
}

// pacerTolerance lets 100 ms worth of traffic through without waiting, so a
// lone request is not delayed for its own service time, while a 10 s transfer
// still holds the limit within 1%.
const pacerTolerance = 100 * time.Millisecond

func (p *pacer) reserve(now time.Time, service time.Duration) time.Duration {
	if p.tat.Before(now) {
		p.tat = now
	}
	p.tat = p.tat.Add(service)
	wait := p.tat.Sub(now) - p.tolerance
	if wait <= 0 {
		return 0
	}
	start, end := now, now.Add(wait)
	if start.Before(p.saturatedUntil) {
		start = p.saturatedUntil
	}
	if end.After(start) {
		p.saturated += end.Sub(start)
		p.saturatedUntil = end
	}
	return wait
}

func serviceTime(bytes, perSec float64) time.Duration {
	return time.Duration(bytes / perSec * float64(time.Second))
}

// meter models one file system's throughput mode: which rate applies to each
// request, the burst credit balance, and how long the request must wait.
// Time is passed in, so the model is tested without sleeping.
type meter struct {
	mu           sync.Mutex
	mode         Mode
	readMetering float64
	rate         float64 // bytes/s: provisioned/elastic limit, or the burst rate
	baseline     float64 // bytes/s once credits are spent (bursting)
	credits      float64 // balance in bytes; negative while baseline debt is paid back
	maxCredits   float64
	creditsAt    time.Time
	pace         pacer

	metered float64       // bytes counted against the limit
	ideal   time.Duration // their service time at the rate in force
}

func newMeter(c Config, now time.Time) *meter {
	m := &meter{
		mode:         c.Mode,
		readMetering: c.ReadMetering,
		creditsAt:    now,
		pace:         pacer{tolerance: pacerTolerance},
	}
	client := c.clientLimitMiBps() * mib
	switch c.Mode {
	case Bursting:
		m.rate = min(c.BurstMiBps*mib, client)
		m.baseline = min(c.BaselineBytesPerSec(), m.rate)
		m.credits = float64(c.CreditBytes)
		m.maxCredits = float64(c.MaxCreditBytes)
		if c.MaxCreditBytes == 0 {
			m.maxCredits = float64(DefaultCredits)
		}
	case Provisioned:
		m.rate = min(c.ProvisionedMiBps*mib, client)
	case Elastic:
		m.rate = client
	}
	return m
}

// earn adds the credits accrued at the baseline since the last call, up to the cap.
func (m *meter) earn(now time.Time) {
	if m.mode != Bursting {
		return
	}
	if dt := now.Sub(m.creditsAt); dt > 0 {
		m.credits = min(m.maxCredits, m.credits+m.baseline*dt.Seconds())
		m.creditsAt = now
	}
}

// reserve charges one request of n bytes and returns how long it must wait.
func (m *meter) reserve(now time.Time, n int, read bool) time.Duration {
	if m == nil || m.mode == Unlimited || n <= 0 {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	bytes := float64(n)
	if read {
		bytes *= m.readMetering
	}
	if bytes == 0 {
		return 0
	}
	var service time.Duration
	if m.mode == Bursting {
		m.earn(now)
		// The part the balance covers goes at the burst rate, the rest at the
		// baseline. The balance goes negative by the baseline part and is
		// earned back while that part is sent, as EFS nets credits earned
		// against credits spent.
		covered := min(bytes, max(m.credits, 0))
		service = serviceTime(covered, m.rate) + serviceTime(bytes-covered, m.baseline)
		m.credits -= bytes
	} else {
		service = serviceTime(bytes, m.rate)
	}
	m.metered += bytes
	m.ideal += service
	return m.pace.reserve(now, service)
}

// meterState is the meter's part of Stats.
type meterState struct {
	limit      float64 // bytes/s in force now
	credits    float64
	metered    float64
	ideal      time.Duration
	saturated  time.Duration
	hasCredits bool
}

func (m *meter) state(now time.Time) meterState {
	if m == nil || m.mode == Unlimited {
		return meterState{}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.earn(now)
	s := meterState{limit: m.rate, metered: m.metered, ideal: m.ideal, saturated: m.pace.saturated}
	if m.mode == Bursting {
		s.hasCredits = true
		s.credits = max(m.credits, 0)
		// Credits earned back in a short pause do not make a 1 MiB request
		// go at the burst rate: report the rate that request would get.
		if m.credits < NFSRequestBytes {
			s.limit = m.baseline
		}
	}
	return s
}
