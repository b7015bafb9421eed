package master

import (
	"github.com/google/btree"

	"meseta/core/mesos"
)

// taskIndex holds every task the tasks page can list, in page order, so
// that an unfiltered page, or one filtered by state or framework, reads
// offset+limit entries instead of scanning a million tasks.
//
// Its members are the tracked tasks (the frameworks' tasks maps) and the
// completed tasks of the active and completed frameworks. Every change
// goes through the master's hooks, under Master.mu: trackTaskLocked,
// setTaskStateLocked, completeTaskLocked, and forgetCompletedLocked for a
// completed record that is dropped. The transcript tests check it against
// a walk after every command.
//
// Page order (taskOrder): state (those not terminal first, in lifecycle
// order), then framework in the order the master learned of them, then
// task in the order the master learned of it. Keys are integers, so an
// insert costs about twenty integer comparisons; a state change is a
// delete and an insert.
type taskIndex struct {
	tree   *btree.BTreeG[*task]
	counts map[indexCount]int // entries by framework and state
	ranks  [numRanks]int      // entries by state
}

type indexCount struct {
	fw   uint32
	rank uint8
}

// stateOrder lists the task states in page order: not terminal, then
// terminal. stateRank maps a state to its place; numRanks-1 is for a
// state name this master does not know.
var stateOrder = []mesos.TaskState{
	mesos.TaskStaging, mesos.TaskStarting, mesos.TaskRunning, mesos.TaskKilling,
	mesos.TaskUnreachable, mesos.TaskUnknown,
	mesos.TaskFinished, mesos.TaskFailed, mesos.TaskKilled, mesos.TaskError, mesos.TaskLost,
	mesos.TaskDropped, mesos.TaskGone, mesos.TaskGoneByOperator,
}

const numRanks = 15

var stateRanks = func() map[mesos.TaskState]uint8 {
	r := map[mesos.TaskState]uint8{}
	for i, s := range stateOrder {
		r[s] = uint8(i)
	}
	return r
}()

func stateRank(s mesos.TaskState) uint8 {
	if r, ok := stateRanks[s]; ok {
		return r
	}
	return numRanks - 1
}

// taskOrder is the tasks page's order; it is total, as seq is unique.
func taskOrder(a, b *task) int {
	switch {
	case a.rank != b.rank:
		return int(a.rank) - int(b.rank)
	case a.fwOrd != b.fwOrd:
		if a.fwOrd < b.fwOrd {
			return -1
		}
		return 1
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

func newTaskIndex() taskIndex {
	return taskIndex{
		tree:   btree.NewG(32, func(a, b *task) bool { return taskOrder(a, b) < 0 }),
		counts: map[indexCount]int{},
	}
}

func (x *taskIndex) insert(t *task) {
	if t.indexed {
		return
	}
	t.indexed = true
	t.rank = stateRank(t.state)
	x.tree.ReplaceOrInsert(t)
	x.counts[indexCount{t.fwOrd, t.rank}]++
	x.ranks[t.rank]++
}

func (x *taskIndex) remove(t *task) {
	if !t.indexed {
		return
	}
	t.indexed = false
	x.tree.Delete(t)
	k := indexCount{t.fwOrd, t.rank}
	if x.counts[k]--; x.counts[k] == 0 {
		delete(x.counts, k)
	}
	x.ranks[t.rank]--
}

// page returns the window [offset, offset+limit) of the entries of
// framework fwOrd (any when anyFW) in state rank (any when anyRank), and
// how many entries match. It visits only the window: counts say which
// (state, framework) runs to skip, and each run is one range of the tree.
func (x *taskIndex) page(anyFW bool, fwOrd uint32, anyRank bool, rank uint8, offset, limit int) (ts []*task, total int) {
	for r := range uint8(numRanks) {
		if !anyRank && r != rank {
			continue
		}
		n := x.ranks[r]
		if !anyFW {
			n = x.counts[indexCount{fwOrd, r}]
		}
		if n == 0 {
			continue
		}
		total += n
		if offset >= n || limit <= len(ts) {
			offset = max(offset-n, 0)
			continue
		}
		// The run starts at the first entry of rank r (and framework
		// fwOrd): the smallest key with them.
		from := &task{rank: r}
		if !anyFW {
			from.fwOrd = fwOrd
		}
		x.tree.AscendGreaterOrEqual(from, func(t *task) bool {
			if t.rank != r || (!anyFW && t.fwOrd != fwOrd) {
				return false
			}
			if offset > 0 {
				offset--
				return true
			}
			ts = append(ts, t)
			return len(ts) < limit
		})
		offset = 0
	}
	return ts, total
}
