// Package flagenv parses daemon flags the way meseta's daemons take them:
// Mesos flag names (--agent_ping_timeout=15secs), each also settable from
// the environment as MESETA_<FLAG> (MESETA_AGENT_PING_TIMEOUT), with
// command-line flags winning. Errors name the flag or the variable.
// Durations accept Mesos's form (15secs, 1mins) and Go's (15s).
package flagenv
