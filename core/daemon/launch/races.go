package launch

import (
	"bytes"
	"strings"
)

// knownRaces are data races inside third-party code that the race
// detector reports in our daemons and that we cannot fix there: each is
// the top frames of the two conflicting accesses.
//
// go-zookeeper/zk v1.0.4: when a client reconnects with watches set,
// Conn.loop's sendSetWatches reads Conn.lastZxid while the new
// connection's recvLoop writes it (an unsynchronized int64; upstream
// samuel/go-zookeeper#178 and #260, fix proposed in go-zookeeper/zk#35,
// never merged). It takes a process stopped and resumed under a live
// session, as the SIGSTOP tests do.
var knownRaces = [][2]string{
	{"github.com/go-zookeeper/zk.(*Conn).recvLoop(", "github.com/go-zookeeper/zk.(*Conn).sendSetWatches("},
}

const raceBanner = "WARNING: DATA RACE"

// RaceReports counts the data race reports in a race-enabled program's
// output, and those of them that are not knownRaces.
func RaceReports(log []byte) (reports, unknown int) {
	parts := bytes.Split(log, []byte(raceBanner))
	for _, p := range parts[1:] {
		reports++
		if end := bytes.Index(p, []byte("==================")); end >= 0 {
			p = p[:end]
		}
		if !isKnownRace(string(p)) {
			unknown++
		}
	}
	return reports, unknown
}

// isKnownRace reports whether the two accesses of one report start in a
// known pair of functions.
func isKnownRace(report string) bool {
	var tops []string
	lines := strings.Split(report, "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		access := strings.HasPrefix(l, "Read at ") || strings.HasPrefix(l, "Write at ") ||
			strings.HasPrefix(l, "Previous read at ") || strings.HasPrefix(l, "Previous write at ")
		if access && i+1 < len(lines) {
			tops = append(tops, strings.TrimSpace(lines[i+1]))
		}
	}
	if len(tops) != 2 {
		return false
	}
	for _, k := range knownRaces {
		if strings.HasPrefix(tops[0], k[0]) && strings.HasPrefix(tops[1], k[1]) ||
			strings.HasPrefix(tops[0], k[1]) && strings.HasPrefix(tops[1], k[0]) {
			return true
		}
	}
	return false
}
