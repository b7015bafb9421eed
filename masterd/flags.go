package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"meseta/core"
	"meseta/core/election"
	"meseta/core/flagenv"
)

// config is masterd's flags, with Mesos's names and defaults.
type config struct {
	ip, hostname, workDir, registry, cluster string
	port                                     int
	allocationInterval, offerTimeout         time.Duration
	agentPingTimeout                         time.Duration
	maxAgentPingTimeouts                     int
	minAllocatable                           string
	heartbeatInterval                        time.Duration
	logLevel                                 string
	cpuProfile, memProfile                   string // meseta: profiles written at exit

	// HA (see docs/ha.md): zk is the --zk URL, parsed into zkServers and
	// zkPath; removalLimit is --recovery_agent_removal_limit as a fraction.
	zk, removalLimitFlag   string
	zkServers              []string
	zkPath                 string
	quorum                 int
	zkSessionTimeout       time.Duration
	agentReregisterTimeout time.Duration
	removalLimit           float64

	fs *flag.FlagSet
}

func parseFlags(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("masterd", flag.ContinueOnError)
	fs.StringVar(&c.ip, "ip", "127.0.0.1", "IP address to listen on and advertise")
	fs.IntVar(&c.port, "port", 5050, "port to listen on")
	fs.StringVar(&c.hostname, "hostname", "", "hostname to advertise (default: the --ip)")
	fs.StringVar(&c.workDir, "work_dir", "", "directory for the registry (required with --registry=pebble)")
	fs.StringVar(&c.registry, "registry", "pebble", "where the registry lives: in_memory or pebble (under --work_dir)")
	fs.StringVar(&c.cluster, "cluster", "", "human readable name for the cluster")
	flagenv.DurationVar(fs, &c.allocationInterval, "allocation_interval", time.Second, "time between periodic allocation sweeps")
	flagenv.DurationVar(fs, &c.offerTimeout, "offer_timeout", 0, "rescind offers outstanding this long (0: never)")
	fs.StringVar(&c.minAllocatable, "min_allocatable_resources", "cpus:0.01|mem:32",
		"an offer must hold at least one of these |-separated alternatives")
	flagenv.DurationVar(fs, &c.agentPingTimeout, "agent_ping_timeout", 15*time.Second, "time an agent has to answer a PING")
	fs.IntVar(&c.maxAgentPingTimeouts, "max_agent_ping_timeouts", 5, "missed PINGs before an agent is removed")
	flagenv.DurationVar(fs, &c.heartbeatInterval, "heartbeat_interval", 15*time.Second,
		"interval of HEARTBEAT events on scheduler streams (meseta; Mesos fixes it at 15secs)")
	fs.StringVar(&c.logLevel, "log_level", "info", "debug, info, warn or error")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file (meseta)")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a heap profile to this file at exit (meseta)")
	fs.StringVar(&c.zk, "zk", "", "ZooKeeper URL for leader election and the replicated registry, "+
		"zk://host1:port1,host2:port2/path (empty: a single master that always leads)")
	fs.IntVar(&c.quorum, "quorum", 0, "accepted for Mesos compatibility; the registry's quorum is the ZooKeeper ensemble's")
	flagenv.DurationVar(fs, &c.zkSessionTimeout, "zk_session_timeout", 10*time.Second, "ZooKeeper session timeout")
	flagenv.DurationVar(fs, &c.agentReregisterTimeout, "agent_reregister_timeout", 10*time.Minute,
		"after a failover, how long admitted agents have to re-register before they are marked unreachable")
	fs.StringVar(&c.removalLimitFlag, "recovery_agent_removal_limit", "100%",
		"after a failover, the largest share of admitted agents that may be marked unreachable; past it the master fails over instead")
	c.fs = fs
	if err := flagenv.Parse(fs, args, getenv, "MESETA_"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return c, errHelp
		}
		return nil, err
	}
	switch {
	case c.port < 0 || c.port > 65535:
		return nil, fmt.Errorf("invalid value %d for flag --port: want 0 (any free port) to 65535", c.port)
	case c.registry != "in_memory" && c.registry != "pebble":
		return nil, fmt.Errorf("invalid value %q for flag --registry: want in_memory or pebble", c.registry)
	case c.registry == "pebble" && c.workDir == "":
		return nil, fmt.Errorf("flag --work_dir is required with --registry=pebble")
	case c.allocationInterval <= 0:
		return nil, fmt.Errorf("invalid value for flag --allocation_interval: must be positive")
	case c.agentPingTimeout <= 0:
		return nil, fmt.Errorf("invalid value for flag --agent_ping_timeout: must be positive")
	case c.maxAgentPingTimeouts <= 0:
		return nil, fmt.Errorf("invalid value %d for flag --max_agent_ping_timeouts: must be positive", c.maxAgentPingTimeouts)
	case c.heartbeatInterval <= 0:
		return nil, fmt.Errorf("invalid value for flag --heartbeat_interval: must be positive")
	}
	if c.zk != "" {
		servers, path, err := election.ParseURL(c.zk)
		if err != nil {
			return nil, fmt.Errorf("invalid value %q for flag --zk: %v", c.zk, strings.TrimPrefix(err.Error(), "election: "))
		}
		c.zkServers, c.zkPath = servers, path
	}
	switch {
	case c.quorum < 0:
		return nil, fmt.Errorf("invalid value %d for flag --quorum: must not be negative", c.quorum)
	case c.zkSessionTimeout < 100*time.Millisecond:
		return nil, fmt.Errorf("invalid value for flag --zk_session_timeout: must be at least 100ms")
	case c.agentReregisterTimeout <= 0:
		return nil, fmt.Errorf("invalid value for flag --agent_reregister_timeout: must be positive")
	}
	limit, err := parseFraction(c.removalLimitFlag)
	if err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --recovery_agent_removal_limit: %v", c.removalLimitFlag, err)
	}
	c.removalLimit = limit
	if _, err := c.minAllocatableQuantities(); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --min_allocatable_resources: %v", c.minAllocatable, err)
	}
	if c.hostname == "" {
		c.hostname = c.ip
	}
	return c, nil
}

// parseFraction reads a share as Mesos writes it ("50%") or as a fraction
// ("0.5"), from 0 to 1.
func parseFraction(v string) (float64, error) {
	num, pct := strings.CutSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("want a percentage such as 50%% or a fraction such as 0.5")
	}
	if pct {
		f /= 100
	}
	if math.IsNaN(f) || f < 0 || f > 1 {
		return 0, fmt.Errorf("must be between 0%% and 100%%")
	}
	return f, nil
}

func (c *config) minAllocatableQuantities() ([]core.Quantities, error) {
	var out []core.Quantities
	for _, alt := range strings.FieldsFunc(c.minAllocatable, func(r rune) bool { return r == '|' }) {
		q, err := core.ParseQuantities(alt)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}
