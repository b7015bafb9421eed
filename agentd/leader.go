package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"meseta/core/election"
	"meseta/core/mesos"
)

// masterSource says which master the agent talks to: the one --master
// names (fixedMaster), or the leader of the ZooKeeper election at
// --master=zk://... (zkMasters). The server's masterLoop is its only
// reader: it owns the current master's address and hands it on.
type masterSource interface {
	// Leader returns the leading master's host:port; ok is false while
	// there is none.
	Leader() (addr string, ok bool)
	// Changes receives after the leader may have changed, including to
	// none. Changes coalesce: read Leader for the latest. A source whose
	// master never changes returns nil, which never fires.
	Changes() <-chan struct{}
	Close() error
}

var (
	_ masterSource = fixedMaster("")
	_ masterSource = (*zkMasters)(nil)
)

func newMasterSource(cfg *config, log *slog.Logger) (masterSource, error) {
	if cfg.zkServers == nil {
		return fixedMaster(cfg.master), nil
	}
	return newZKMasters(cfg.zkServers, cfg.zkPath, cfg.zkSessionTimeout, log)
}

// fixedMaster is --master=host:port: always the leader.
type fixedMaster string

func (m fixedMaster) Leader() (string, bool) { return string(m), true }
func (fixedMaster) Changes() <-chan struct{} { return nil }
func (fixedMaster) Close() error             { return nil }

// zkMasters follows the masters' election with an [election.Detector]:
// the leader's znode holds its MasterInfo as JSON, from which Leader takes
// the address (masterAddress). A leader whose data has no usable address
// counts as none: the agent waits for the next one.
type zkMasters struct {
	d   *election.Detector
	log *slog.Logger
}

func newZKMasters(servers []string, path string, sessionTimeout time.Duration, log *slog.Logger) (*zkMasters, error) {
	d, err := election.NewDetector(servers, path, sessionTimeout, log)
	if err != nil {
		return nil, err
	}
	return &zkMasters{d: d, log: log}, nil
}

func (m *zkMasters) Leader() (string, bool) {
	data, node, ok := m.d.Leader()
	if !ok {
		return "", false
	}
	addr, err := masterAddress(data)
	if err != nil {
		m.log.Warn("the leading master's znode names no address it can be reached at; waiting for another leader",
			"node", node, "err", err)
		return "", false
	}
	return addr, true
}

func (m *zkMasters) Changes() <-chan struct{} { return m.d.Changes() }
func (m *zkMasters) Close() error             { return m.d.Close() }

// errNoAddress: a MasterInfo names no address.
var errNoAddress = errors.New("agentd: the MasterInfo names no address")

// masterAddress reads a MasterInfo (JSON, as a master writes it into its
// election znode) and returns the host:port to reach it at: address.ip
// and address.port when present, else ip (IPv4 in network byte order in a
// uint32, as masterd and Mesos write it) and port, else a hostname and the
// port (mesos.MasterInfo.HostPort, which masterd's standbys use too to
// name the leader).
func masterAddress(data []byte) (string, error) {
	var info mesos.MasterInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return "", fmt.Errorf("agentd: MasterInfo: %w", err)
	}
	addr := info.HostPort()
	if addr == "" {
		return "", errNoAddress
	}
	return addr, nil
}
