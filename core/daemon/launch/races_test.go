package launch

import "testing"

// zkRace is the report of go-zookeeper's lastZxid race, as an agent
// built with -race printed it in CI.
const zkRace = `==================
WARNING: DATA RACE
Write at 0x00c0000aa180 by goroutine 57:
  github.com/go-zookeeper/zk.(*Conn).recvLoop()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:849 +0x68c
  github.com/go-zookeeper/zk.(*Conn).loop.func2()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:474 +0x1c4

Previous read at 0x00c0000aa180 by goroutine 16:
  github.com/go-zookeeper/zk.(*Conn).sendSetWatches()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:614 +0x49d
  github.com/go-zookeeper/zk.(*Conn).loop()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:484 +0x54b

Goroutine 16 (running) created at:
  github.com/go-zookeeper/zk.Connect()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:223 +0x8e6
  meseta/core/election.connect()
      /tmp/ci-clone/core/election/session.go:172 +0x4b2
==================
`

// ourRace is a race with one access in our code.
const ourRace = `==================
WARNING: DATA RACE
Read at 0x00c000123456 by goroutine 7:
  main.(*server).handle()
      /src/masterd/http.go:40 +0x44

Previous write at 0x00c000123456 by goroutine 9:
  github.com/go-zookeeper/zk.(*Conn).recvLoop()
      /root/go/pkg/mod/github.com/go-zookeeper/zk@v1.0.4/conn.go:849 +0x68c
==================
`

func TestRaceReports(t *testing.T) {
	for _, tc := range []struct {
		name             string
		log              string
		reports, unknown int
	}{
		{"none", "level=INFO msg=started\n", 0, 0},
		{"known zk race", "a line\n" + zkRace + "another\n", 1, 0},
		{"our race", ourRace, 1, 1},
		{"both", zkRace + ourRace, 2, 1},
		{"cut short", "WARNING: DATA RACE\nWrite at 0x1 by goroutine 1:\n", 1, 1},
	} {
		r, u := RaceReports([]byte(tc.log))
		if r != tc.reports || u != tc.unknown {
			t.Errorf("%s: %d reports, %d unknown; want %d, %d", tc.name, r, u, tc.reports, tc.unknown)
		}
	}
}
