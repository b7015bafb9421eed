package flagenv

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func newSet() (*flag.FlagSet, *int, *time.Duration) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	port := fs.Int("port", 5050, "port")
	var d time.Duration
	DurationVar(fs, &d, "agent_ping_timeout", 15*time.Second, "ping")
	return fs, port, &d
}

func TestParse(t *testing.T) {
	env := map[string]string{"MESETA_PORT": "6060", "MESETA_AGENT_PING_TIMEOUT": "2mins"}
	fs, port, d := newSet()
	if err := Parse(fs, []string{"--port=7070"}, func(k string) string { return env[k] }, "MESETA_"); err != nil {
		t.Fatal(err)
	}
	if *port != 7070 || *d != 2*time.Minute { // the command line wins over the environment
		t.Fatalf("port %d, timeout %v", *port, *d)
	}
}

func TestErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--bogus=1"}, nil, "bogus"},
		{[]string{"--port=x"}, nil, "port"},
		{[]string{"--agent_ping_timeout=5parsecs"}, nil, "agent_ping_timeout"},
		{nil, map[string]string{"MESETA_PORT": "http"}, "MESETA_PORT"},
		{[]string{"stray"}, nil, "stray"},
	} {
		fs, _, _ := newSet()
		err := Parse(fs, tc.args, func(k string) string { return tc.env[k] }, "MESETA_")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: got %v, want an error naming %q", tc.args, tc.env, err, tc.want)
		}
	}
}
