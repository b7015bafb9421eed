package alloc

import (
	"sync"
	"time"
)

// manualClock is a Clock the test moves by hand.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var transcriptEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
