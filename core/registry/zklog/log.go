package zklog

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"meseta/core/election"
	"meseta/core/registry"
)

// HistoryKey is the registry value that names the log's history (see the
// package documentation).
const HistoryKey = "zklog.history"

var (
	// ErrNotLeader: Apply on a Log that is not leading, or whose fence
	// znode is gone (leadership lost). Nothing was written.
	ErrNotLeader = errors.New("zklog: not the leader")
	// ErrBroken: an earlier write failed in a way that leaves the log and
	// the local copy possibly out of step; the master must exit.
	ErrBroken = errors.New("zklog: replicated registry broken")
)

// Local is the master's own copy of the registry (a *registry.Pebble, or a
// *registry.Memory in tests).
type Local interface {
	registry.Store
	Check(ops ...registry.Op) error
	Applied() uint64
	Restore(registry.State) error
}

// Config configures a Log.
type Config struct {
	// Conn is the ZooKeeper session to use. A leading Log must use the
	// session that owns its fence znode (election.Contender.Conn).
	Conn *zk.Conn
	// Root is the log's path, e.g. "/meseta/registry".
	Root string
	// Local is this master's copy.
	Local Local
	// Logger gets what the log does at info level; nil discards.
	Logger *slog.Logger
	// CompactBytes is the least log growth, in bytes, between snapshots
	// (more when the last snapshot was larger). Default 4 MiB.
	CompactBytes int
	// ChunkBytes is the snapshot chunk size. Default 512 KiB (ZooKeeper
	// refuses znodes over 1 MiB by default).
	ChunkBytes int
}

// maxEntryBytes bounds one log entry: larger Applies are split (each part
// atomic), under ZooKeeper's default 1 MiB jute.maxbuffer.
const maxEntryBytes = 768 << 10

// pointer is the content of <root>/snapshot.
type pointer struct {
	Generation int64  `json:"generation"`
	Position   uint64 `json:"position"` // State.Applied of the snapshot
	LogSeq     int64  `json:"log_seq"`  // the last log entry it covers; -1: none
	Chunks     int    `json:"chunks"`
	Bytes      int    `json:"bytes"`
	History    string `json:"history"`
}

// Log is the replicated registry of one master. It implements
// registry.Store: State reads the local copy, Apply writes through
// ZooKeeper when leading.
type Log struct {
	cfg Config
	log *slog.Logger

	// mu serializes Sync, Apply and Lead and guards the fields below.
	mu        sync.Mutex
	fence     string // the leader's election znode; "" while following
	broken    error
	lastSeq   int64  // highest log entry seq applied or known covered
	history   string // the history id the local copy was checked against
	logBytes  int    // entry bytes written since the last snapshot (leader)
	snapBytes int    // size of the last snapshot
	snapGen   int64
	closed    bool

	compacting atomic.Bool
	compactWG  sync.WaitGroup
	stats      Stats
}

// Stats count what a Log did, for metrics and tests.
type Stats struct {
	Entries   int64 // entries applied from the log by Sync
	Written   int64 // entries written by this Log as leader
	Restores  int64 // snapshots restored into the local copy
	Snapshots int64 // snapshots written
	Deleted   int64 // log entries deleted by compaction
}

// New returns a Log over cfg.Root, creating the root and log paths if
// needed. It does not read the log: call Sync, Follow or Lead.
func New(cfg Config) (*Log, error) {
	if cfg.Conn == nil || cfg.Local == nil || !strings.HasPrefix(cfg.Root, "/") || strings.HasSuffix(cfg.Root, "/") {
		return nil, fmt.Errorf("zklog: need a connection, a local store and an absolute root path (got %q)", cfg.Root)
	}
	if cfg.CompactBytes <= 0 {
		cfg.CompactBytes = 4 << 20
	}
	if cfg.ChunkBytes <= 0 || cfg.ChunkBytes > maxEntryBytes {
		cfg.ChunkBytes = 512 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Log{cfg: cfg, log: cfg.Logger, lastSeq: -1}
	if err := election.EnsurePath(cfg.Conn, cfg.Root+"/log"); err != nil {
		return nil, err
	}
	return l, nil
}

// State returns the local copy's state.
func (l *Log) State() registry.State { return l.cfg.Local.State() }

// Stats returns the counters.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Close waits for a running compaction and stops the Log; it does not close
// the connection or the local store, which belong to the caller.
func (l *Log) Close() error {
	l.mu.Lock()
	l.closed = true
	l.fence = ""
	l.mu.Unlock()
	l.compactWG.Wait()
	return nil
}

// Sync brings the local copy up to the log's tail as of some instant
// during the call.
func (l *Log) Sync() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.syncLocked()
	return err
}

// Follow keeps the local copy up to the log's tail until ctx ends: it
// catches up whenever the log's children change (and every few seconds,
// so that a missed watch costs little). Errors are logged and retried.
func (l *Log) Follow(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := l.Sync()
		var ev <-chan zk.Event
		if err == nil {
			_, _, ev, err = l.cfg.Conn.ChildrenW(l.cfg.Root + "/log")
		}
		wait := 5 * time.Second
		if err != nil {
			if errors.Is(err, ErrBroken) {
				return
			}
			l.log.Warn("registry log: following failed; retrying", "err", err, "in", backoff)
			wait, backoff = backoff, min(2*backoff, 5*time.Second)
		} else {
			backoff = 100 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-ev:
		case <-t.C:
		}
		t.Stop()
	}
}

// Lead makes this Log the writer, fenced by the election znode fence: it
// catches up with the log first (seeding an empty root from the local
// copy), and Apply writes from then on. Call it once the Contender leads,
// with its Node().
func (l *Log) Lead(fence string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return l.broken
	}
	ptr, err := l.syncLocked()
	if err != nil {
		return err
	}
	if ptr == nil {
		if err := l.seedLocked(fence); err != nil {
			return err
		}
	}
	l.fence = fence
	l.log.Info("registry log: leading", "position", l.cfg.Local.Applied(), "log_seq", l.lastSeq)
	return nil
}

// Apply writes ops to the log, fenced, then applies them to the local
// copy. An invalid batch fails with the *registry.OpError the local copy
// gives and writes nothing. Ops too large for one entry are split into
// several, each atomic.
func (l *Log) Apply(ops ...registry.Op) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.broken != nil:
		return l.broken
	case l.closed:
		return registry.ErrClosed
	case l.fence == "":
		return ErrNotLeader
	case len(ops) == 0:
		return nil
	}
	if err := l.cfg.Local.Check(ops...); err != nil {
		return err
	}
	for len(ops) > 0 {
		n, data := l.entry(ops)
		if err := l.writeLocked(ops[:n], data); err != nil {
			return err
		}
		ops = ops[n:]
	}
	if l.logBytes >= max(l.snapBytes, l.cfg.CompactBytes) && l.compacting.CompareAndSwap(false, true) {
		l.startCompactionLocked()
	}
	return nil
}

// entry returns how many of ops go in the next entry and its encoding.
func (l *Log) entry(ops []registry.Op) (int, []byte) {
	pos := l.cfg.Local.Applied()
	n := len(ops)
	for {
		data := registry.EncodeBatch(pos, ops[:n])
		if len(data) <= maxEntryBytes || n == 1 {
			return n, data
		}
		n = (n + 1) / 2
	}
}

// writeLocked writes one entry and applies it locally.
func (l *Log) writeLocked(ops []registry.Op, data []byte) error {
	res, err := l.cfg.Conn.Multi(
		&zk.CheckVersionRequest{Path: l.fence, Version: -1},
		&zk.CreateRequest{Path: l.cfg.Root + "/log/op-", Data: data, Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence},
	)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrNoNode) {
			l.broken = fmt.Errorf("%w: %w: election znode %s is gone", ErrBroken, ErrNotLeader, l.fence)
		} else {
			l.broken = fmt.Errorf("%w: a registry write may or may not have committed: %w", ErrBroken, err)
		}
		l.fence = ""
		return l.broken
	}
	seq, ok := sequence(res[1].String)
	if !ok {
		l.broken = fmt.Errorf("%w: ZooKeeper created %q, not a sequential entry", ErrBroken, res[1].String)
		return l.broken
	}
	if err := l.cfg.Local.Apply(ops...); err != nil {
		l.broken = fmt.Errorf("%w: committed entry %d did not apply locally: %w", ErrBroken, seq, err)
		return l.broken
	}
	l.lastSeq = seq
	l.logBytes += len(data)
	l.stats.Written++
	return nil
}

// syncLocked catches up; it returns the pointer it followed, nil when the
// root has no snapshot yet (nothing has been replicated).
func (l *Log) syncLocked() (*pointer, error) {
	if l.broken != nil {
		return nil, l.broken
	}
	restore := false
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		ptr, err := l.readPointer()
		if err != nil {
			return nil, err
		}
		if ptr == nil {
			return nil, nil
		}
		local := l.cfg.Local
		if l.history != ptr.History {
			st := local.State()
			if string(st.Values[HistoryKey]) != ptr.History {
				if st.Applied > 0 {
					l.log.Warn("registry log: local copy is from another history; replacing it with the snapshot",
						"local_history", string(st.Values[HistoryKey]), "history", ptr.History, "local_position", st.Applied)
				}
				restore = true
			}
		}
		if restore || local.Applied() < ptr.Position {
			if err := l.restoreLocked(ptr); err != nil {
				return nil, err
			}
			restore = false
		}
		l.history = ptr.History
		l.snapBytes, l.snapGen = ptr.Bytes, ptr.Generation
		l.lastSeq = max(l.lastSeq, ptr.LogSeq)
		err = l.applyTailLocked()
		if err == nil {
			return ptr, nil
		}
		var g *gapError
		if !errors.As(err, &g) {
			return nil, err
		}
		// Compacted under us, or out of step: start again from the
		// snapshot pointer, restoring if the entry did not fit.
		restore = g.diverged
		lastErr = err
		l.log.Info("registry log: catching up again", "reason", err)
	}
	return nil, fmt.Errorf("zklog: could not catch up: %w", lastErr)
}

// gapError: an entry did not follow the local position.
type gapError struct {
	seq      int64
	pos, n   uint64
	local    uint64
	diverged bool // the local copy cannot be right: restore it
}

func (e *gapError) Error() string {
	return fmt.Sprintf("log entry %d covers positions %d..%d but the local copy is at %d", e.seq, e.pos, e.pos+e.n, e.local)
}

// applyTailLocked applies the entries after lastSeq.
func (l *Log) applyTailLocked() error {
	children, _, err := l.cfg.Conn.Children(l.cfg.Root + "/log")
	if err != nil {
		return fmt.Errorf("zklog: list %s/log: %w", l.cfg.Root, err)
	}
	seqs := make([]int64, 0, len(children))
	for _, c := range children {
		if s, ok := sequence(c); ok && s > l.lastSeq {
			seqs = append(seqs, s)
		}
	}
	slices.Sort(seqs)
	local := l.cfg.Local
	for _, s := range seqs {
		data, _, err := l.cfg.Conn.Get(entryPath(l.cfg.Root, s))
		if errors.Is(err, zk.ErrNoNode) {
			return &gapError{seq: s, local: local.Applied()} // compacted away
		}
		if err != nil {
			return fmt.Errorf("zklog: read log entry %d: %w", s, err)
		}
		pos, ops, err := registry.DecodeBatch(data)
		if err != nil {
			return fmt.Errorf("zklog: log entry %d: %w", s, err)
		}
		at, n := local.Applied(), uint64(len(ops))
		switch {
		case pos+n <= at:
			// Already applied (before a restart, or by the snapshot).
		case pos == at:
			if err := local.Apply(ops...); err != nil {
				l.log.Error("registry log: entry does not apply to the local copy", "seq", s, "err", err)
				return &gapError{seq: s, pos: pos, n: n, local: at, diverged: true}
			}
			l.stats.Entries++
		case pos > at:
			return &gapError{seq: s, pos: pos, n: n, local: at}
		default:
			return &gapError{seq: s, pos: pos, n: n, local: at, diverged: true}
		}
		l.lastSeq = s
	}
	return nil
}

// readPointer reads <root>/snapshot; nil when it does not exist.
func (l *Log) readPointer() (*pointer, error) {
	data, _, err := l.cfg.Conn.Get(l.cfg.Root + "/snapshot")
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zklog: read %s/snapshot: %w", l.cfg.Root, err)
	}
	var p pointer
	if err := json.Unmarshal(data, &p); err != nil || p.Generation <= 0 || p.Chunks <= 0 || p.History == "" {
		return nil, fmt.Errorf("zklog: %s/snapshot is not a snapshot pointer: %q", l.cfg.Root, data)
	}
	return &p, nil
}

// restoreLocked replaces the local copy with the snapshot ptr names.
func (l *Log) restoreLocked(ptr *pointer) error {
	dir := genPath(l.cfg.Root, ptr.Generation)
	buf := make([]byte, 0, ptr.Bytes)
	for i := range ptr.Chunks {
		data, _, err := l.cfg.Conn.Get(fmt.Sprintf("%s/c-%04d", dir, i))
		if err != nil {
			return fmt.Errorf("zklog: read snapshot %d chunk %d: %w", ptr.Generation, i, err)
		}
		buf = append(buf, data...)
	}
	st, err := registry.DecodeState(buf)
	if err != nil {
		return fmt.Errorf("zklog: snapshot %d: %w", ptr.Generation, err)
	}
	if st.Applied != ptr.Position {
		return fmt.Errorf("zklog: snapshot %d is at position %d, its pointer says %d", ptr.Generation, st.Applied, ptr.Position)
	}
	if err := l.cfg.Local.Restore(st); err != nil {
		return err
	}
	l.lastSeq = ptr.LogSeq
	l.stats.Restores++
	l.log.Info("registry log: restored snapshot", "generation", ptr.Generation, "position", ptr.Position, "bytes", len(buf))
	return nil
}

// seedLocked starts the replicated registry on an empty root from the
// local copy, with a new history id.
func (l *Log) seedLocked(fence string) error {
	st := l.cfg.Local.State()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	op := registry.Op{Kind: registry.SetValue, Key: HistoryKey, Info: []byte(hex.EncodeToString(id))}
	if err := st.Apply(op); err != nil {
		return err
	}
	ptr, err := l.writeSnapshot(st, 1, -1, fence, true)
	if err != nil {
		return err
	}
	if err := l.cfg.Local.Restore(st); err != nil {
		l.broken = fmt.Errorf("%w: seeded the log but cannot write the local copy: %w", ErrBroken, err)
		return l.broken
	}
	l.history, l.snapBytes, l.snapGen, l.lastSeq = ptr.History, ptr.Bytes, ptr.Generation, -1
	l.log.Info("registry log: seeded from the local registry", "position", st.Applied,
		"admitted", len(st.Admitted), "history", ptr.History)
	return nil
}

// writeSnapshot writes st as generation gen and points the pointer at it,
// in a multi fenced by fence (create the pointer when first).
func (l *Log) writeSnapshot(st registry.State, gen, logSeq int64, fence string, first bool) (*pointer, error) {
	data := registry.EncodeState(st)
	dir := genPath(l.cfg.Root, gen)
	// A leftover of an interrupted attempt at this generation goes first.
	if err := deleteTree(l.cfg.Conn, dir); err != nil {
		return nil, err
	}
	if _, err := l.cfg.Conn.Create(dir, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		return nil, fmt.Errorf("zklog: create %s: %w", dir, err)
	}
	chunks := 0
	for off := 0; off < len(data) || chunks == 0; off += l.cfg.ChunkBytes {
		end := min(off+l.cfg.ChunkBytes, len(data))
		if _, err := l.cfg.Conn.Create(fmt.Sprintf("%s/c-%04d", dir, chunks), data[off:end], 0, zk.WorldACL(zk.PermAll)); err != nil {
			return nil, fmt.Errorf("zklog: write snapshot %d chunk %d: %w", gen, chunks, err)
		}
		chunks++
	}
	ptr := &pointer{Generation: gen, Position: st.Applied, LogSeq: logSeq, Chunks: chunks, Bytes: len(data),
		History: string(st.Values[HistoryKey])}
	pj, _ := json.Marshal(ptr)
	var op any = &zk.SetDataRequest{Path: l.cfg.Root + "/snapshot", Data: pj, Version: -1}
	if first {
		op = &zk.CreateRequest{Path: l.cfg.Root + "/snapshot", Data: pj, Acl: zk.WorldACL(zk.PermAll)}
	}
	res, err := l.cfg.Conn.Multi(&zk.CheckVersionRequest{Path: fence, Version: -1}, op)
	if err != nil {
		if len(res) > 0 && errors.Is(res[0].Error, zk.ErrNoNode) {
			return nil, fmt.Errorf("%w: election znode %s is gone", ErrNotLeader, fence)
		}
		return nil, fmt.Errorf("zklog: switch the snapshot pointer to generation %d: %w", gen, err)
	}
	return ptr, nil
}

// startCompactionLocked snapshots the local copy as it is now (all of the
// log up to lastSeq) and, in the background, writes it, switches the
// pointer and deletes what it replaced.
func (l *Log) startCompactionLocked() {
	st := l.cfg.Local.State()
	seq, gen, fence := l.lastSeq, l.snapGen+1, l.fence
	l.logBytes = 0 // new writes count towards the next one
	l.compactWG.Go(func() {
		defer l.compacting.Store(false)
		ptr, err := l.writeSnapshot(st, gen, seq, fence, false)
		if err != nil {
			l.log.Warn("registry log: compaction failed; the log keeps growing until the next one", "generation", gen, "err", err)
			return
		}
		l.mu.Lock()
		l.snapBytes, l.snapGen = ptr.Bytes, ptr.Generation
		l.stats.Snapshots++
		l.mu.Unlock()
		deleted := l.deleteCovered(gen, seq)
		l.mu.Lock()
		l.stats.Deleted += int64(deleted)
		l.mu.Unlock()
		l.log.Info("registry log: compacted", "generation", gen, "position", st.Applied, "bytes", ptr.Bytes, "entries_deleted", deleted)
	})
}

// deleteCovered deletes the log entries up to seq and the generations
// before gen. Failures leave garbage for the next compaction.
func (l *Log) deleteCovered(gen, seq int64) int {
	conn := l.cfg.Conn
	deleted := 0
	if children, _, err := conn.Children(l.cfg.Root + "/log"); err == nil {
		for _, c := range children {
			if s, ok := sequence(c); ok && s <= seq {
				if err := conn.Delete(entryPath(l.cfg.Root, s), -1); err == nil {
					deleted++
				}
			}
		}
	}
	if children, _, err := conn.Children(l.cfg.Root); err == nil {
		for _, c := range children {
			if g, ok := strings.CutPrefix(c, "snap-"); ok {
				if n, err := strconv.ParseInt(g, 10, 64); err == nil && n < gen {
					_ = deleteTree(conn, l.cfg.Root+"/"+c)
				}
			}
		}
	}
	return deleted
}

func entryPath(root string, seq int64) string { return fmt.Sprintf("%s/log/op-%010d", root, seq) }

func genPath(root string, gen int64) string { return fmt.Sprintf("%s/snap-%010d", root, gen) }

// sequence parses the sequence number ZooKeeper appended to a name or path.
func sequence(name string) (int64, bool) {
	i := strings.LastIndex(name, "op-")
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(name[i+3:], 10, 64)
	return n, err == nil && n >= 0
}

// deleteTree deletes path and its children (one level: chunks), if present.
func deleteTree(conn *zk.Conn, path string) error {
	children, _, err := conn.Children(path)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("zklog: list %s: %w", path, err)
	}
	for _, c := range children {
		if err := conn.Delete(path+"/"+c, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
			return fmt.Errorf("zklog: delete %s/%s: %w", path, c, err)
		}
	}
	if err := conn.Delete(path, -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("zklog: delete %s: %w", path, err)
	}
	return nil
}
