package zkserver

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
)

// Ensemble is a replicated ZooKeeper service of n servers on 127.0.0.1.
type Ensemble struct {
	// Servers are the members; Servers[i] has myid i+1.
	Servers []*Server
}

// StartEnsemble starts n servers (n >= 2; 3 tolerates one failure) with
// free client, peer and election ports, server K in dir/zkK, and returns
// once every member reports Mode leader or follower with exactly one leader,
// within ctx and opts.StartTimeout.
func StartEnsemble(ctx context.Context, dir string, n int, opts Options) (*Ensemble, error) {
	if n < 2 {
		return nil, fmt.Errorf("zkserver: an ensemble needs at least 2 servers, not %d; use StartStandalone", n)
	}
	opts = opts.withDefaults()
	if err := opts.check(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	e := &Ensemble{}
	logMu := new(sync.Mutex)
	for id := 1; id <= n; id++ {
		s, err := newServer(filepath.Join(dir, fmt.Sprintf("zk%d", id)), id, opts, logMu)
		if err != nil {
			return nil, err
		}
		e.Servers = append(e.Servers, s)
	}
	for attempt := 1; ; attempt++ {
		err := e.start(ctx)
		if err == nil {
			return e, nil
		}
		e.kill()
		if attempt == startAttempts || !errors.Is(err, errPortInUse) {
			return nil, err
		}
	}
}

// start configures every member with fresh ports, starts them and waits.
func (e *Ensemble) start(ctx context.Context) error {
	p, err := freePorts(3 * len(e.Servers))
	if err != nil {
		return err
	}
	members := make([]ports, len(e.Servers))
	for i := range members {
		members[i] = ports{client: p[3*i], peer: p[3*i+1], election: p[3*i+2]}
	}
	for i, s := range e.Servers {
		if err := s.configure(members[i], members); err != nil {
			return err
		}
	}
	for _, s := range e.Servers {
		if err := s.start(); err != nil {
			return err
		}
	}
	return waitReady(ctx, e.Servers, isQuorumMember)
}

// kill kills every member; a start that failed is cleaned up with it.
func (e *Ensemble) kill() {
	var wg sync.WaitGroup
	for _, s := range e.Servers {
		wg.Go(func() { s.Kill() })
	}
	wg.Wait()
}

// Connect returns the members' client addresses joined with commas, as in
// zk://host1:port1,host2:port2/path.
func (e *Ensemble) Connect() string {
	return strings.Join(e.Addrs(), ",")
}

// Addrs returns the members' client addresses.
func (e *Ensemble) Addrs() []string {
	addrs := make([]string, len(e.Servers))
	for i, s := range e.Servers {
		addrs[i] = s.Addr
	}
	return addrs
}

// Stop stops every member at once (see [Server.Stop]).
func (e *Ensemble) Stop() error {
	errs := make([]error, len(e.Servers))
	var wg sync.WaitGroup
	for i, s := range e.Servers {
		wg.Go(func() { errs[i] = s.Stop() })
	}
	wg.Wait()
	return errors.Join(errs...)
}
