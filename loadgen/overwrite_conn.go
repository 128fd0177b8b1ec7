package loadgen

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// keyPicker draws dataset indices from the configured distribution.
type keyPicker struct {
	src   *rand.ChaCha8 // also the random bytes of the values
	rng   *rand.Rand
	zipf  *rand.Zipf
	keys  uint64
	mult  uint64 // spreads Zipf ranks over the keyspace: hot keys are not neighbours
	value []byte
}

func newKeyPicker(cfg OverwriteConfig, stream uint64) *keyPicker {
	var seed [32]byte
	state := cfg.Seed ^ stream*0x9e3779b97f4a7c15
	for i := 0; i < 4; i++ {
		v := splitmix64(&state)
		for j := 0; j < 8; j++ {
			seed[i*8+j] = byte(v >> (8 * j))
		}
	}
	src := rand.NewChaCha8(seed)
	rng := rand.New(src)
	p := &keyPicker{src: src, rng: rng, keys: uint64(cfg.Keys), value: make([]byte, cfg.ValueSize)}
	if cfg.Dist == Zipf {
		p.zipf = rand.NewZipf(rng, cfg.ZipfS, 1, p.keys-1)
		p.mult = coprimeMultiplier(p.keys)
	}
	return p
}

// next is the index of the next key to overwrite.
func (p *keyPicker) next() int64 {
	if p.zipf == nil {
		return int64(p.rng.Uint64N(p.keys))
	}
	return int64(mulMod(p.zipf.Uint64(), p.mult, p.keys))
}

// coprimeMultiplier is an odd multiplier near keys/φ sharing no factor with
// keys, so rank -> rank*m mod keys is a permutation.
func coprimeMultiplier(keys uint64) uint64 {
	if keys < 3 {
		return 1
	}
	m := uint64(float64(keys)/math.Phi) | 1
	for gcd(m, keys) != 1 {
		m += 2
	}
	return m % keys
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mulMod returns (a*b) mod m without overflow (m < 2^63).
func mulMod(a, b, m uint64) uint64 {
	var r uint64
	a %= m
	for b > 0 {
		if b&1 == 1 {
			r = (r + a) % m
		}
		a = (a << 1) % m
		b >>= 1
	}
	return r
}

// run is one connection: claim the next op, sleep until it is due, send it.
func (o *Overwriter) run(p *keyPicker) {
	defer o.wg.Done()
	var client *redis.Client
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		due, ok := o.claim()
		if !ok {
			return
		}
		if wait := time.Until(o.start.Add(due)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-o.ctx.Done():
				timer.Stop()
				return
			}
		}
		client = o.send(client, p)
	}
}

// send overwrites one key, connecting first if needed; it returns the
// client to use next (nil after a broken connection).
func (o *Overwriter) send(client *redis.Client, p *keyPicker) *redis.Client {
	o.issued.Add(1)
	if client == nil {
		nc, err := dial(o.cfg.Conn, o.cfg.Addr(), o.cfg.DialTimeout)
		if err != nil {
			o.failed.Add(1)
			// A dead server is not hammered by a hot loop of dials.
			time.Sleep(defaultRefusedPause)
			return nil
		}
		client = newClient(o.cfg.Conn, nc, o.cfg.OpTimeout)
	}
	i := p.next()
	_, _ = p.src.Read(p.value) // never fails
	err := client.Set(context.Background(), DatasetKey(o.cfg.Prefix, i), p.value, 0).Err()
	switch outcome, _ := Classify(err, true); outcome {
	case OK:
		o.acked.Add(1)
		if bit := uint64(1) << (i % 64); o.touched[i/64].Or(bit)&bit == 0 {
			o.distinct.Add(1)
		}
	case Fail:
		o.failed.Add(1)
	default:
		o.unknown.Add(1)
	}
	if lostConn(client, err) {
		client.Close()
		return nil
	}
	return client
}
