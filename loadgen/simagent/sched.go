package simagent

import (
	"container/heap"
	"sync"
	"time"
)

// scheduler runs callbacks at given times from one goroutine, over a
// min-heap: one entry per timed task, no goroutine or runtime timer per
// task. A callback must check that its task is still the one it was
// scheduled for (tasks are killed, agents die); entries are never removed
// early.
type scheduler struct {
	wake chan struct{} // capacity 1: an entry earlier than the head was added

	// mu guards items.
	mu    sync.Mutex
	items timerHeap
}

type timerItem struct {
	when time.Time
	fn   func(now time.Time)
}

type timerHeap []timerItem

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerItem)) }
func (h *timerHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = timerItem{}
	*h = old[:len(old)-1]
	return it
}

func newScheduler() *scheduler { return &scheduler{wake: make(chan struct{}, 1)} }

// at schedules fn to run at when.
func (s *scheduler) at(when time.Time, fn func(now time.Time)) {
	s.mu.Lock()
	heap.Push(&s.items, timerItem{when: when, fn: fn})
	first := s.items[0].when.Equal(when)
	s.mu.Unlock()
	if first {
		notify(s.wake)
	}
}

// run fires due entries until done closes.
func (s *scheduler) run(done <-chan struct{}) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		now := time.Now()
		var due []func(time.Time)
		s.mu.Lock()
		for len(s.items) > 0 && !s.items[0].when.After(now) {
			due = append(due, heap.Pop(&s.items).(timerItem).fn)
		}
		wait := time.Hour
		if len(s.items) > 0 {
			wait = s.items[0].when.Sub(now)
		}
		s.mu.Unlock()
		for _, fn := range due {
			fn(now)
		}
		t.Reset(wait)
		select {
		case <-done:
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
