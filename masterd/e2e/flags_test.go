package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestFlagErrors: an unknown or bad flag, or a bad MESETA_<FLAG>
// variable, is an error that names it, and the daemon exits 2.
func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		bin  string
		args []string
		env  string
		want string
	}{
		{bin.masterd, []string{"--bogus=1"}, "", "bogus"},
		{bin.masterd, []string{"--registry=etcd"}, "", "--registry"},
		{bin.masterd, []string{"--registry=in_memory", "--agent_ping_timeout=fast"}, "", "agent_ping_timeout"},
		{bin.masterd, []string{"--registry=in_memory"}, "MESETA_OFFER_TIMEOUT=soon", "MESETA_OFFER_TIMEOUT"},
		{bin.masterd, []string{"--registry=pebble"}, "", "--work_dir"},
		{bin.masterd, []string{"--registry=in_memory", "--min_allocatable_resources=cpus:x"}, "", "--min_allocatable_resources"},
		{bin.agentd, []string{"--work_dir=/tmp/x"}, "", "--master"},
		{bin.agentd, []string{"--master=h:1", "--work_dir=/tmp/x", "--resources=cpus:-1"}, "", "--resources"},
		{bin.agentd, []string{"--master=h:1", "--work_dir=/tmp/x", "--attributes=rack"}, "", "--attributes"},
	} {
		cmd := exec.Command(tc.bin, tc.args...)
		cmd.Env = os.Environ()
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v %s: exit %v, output %q; want exit 2 naming %q", tc.args, tc.env, err, out, tc.want)
		}
	}
}
