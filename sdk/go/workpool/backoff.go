package workpool

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff produces capped exponential reconnect delays with jitter. The
// n-th delay since the last reset is initial * 2^n times a random factor in
// [0.5, 1.5), capped by maximum, so clients that lost the same server do not
// reconnect at the same instant.
type backoff struct {
	initial  time.Duration
	maximum  time.Duration
	failures int
	random   func() float64
}

func newBackoff(initial, maximum time.Duration) *backoff {
	return &backoff{initial: initial, maximum: maximum, random: rand.Float64}
}

// next returns the delay before the next attempt and counts a failure.
func (b *backoff) next() time.Duration {
	exponent := min(b.failures, 30)
	b.failures++
	delay := float64(b.initial) * float64(int64(1)<<exponent) * (0.5 + b.random())
	if delay > float64(b.maximum) {
		return b.maximum
	}
	return time.Duration(delay)
}

// reset starts again from the initial delay, after a successful connection.
func (b *backoff) reset() { b.failures = 0 }

// sleep waits for d or until ctx is done, and reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
