package agentapi

import (
	"strings"
	"testing"

	"meseta/core/mesos"
)

// TestRegisterEndpoint: the master builds URLs from an agent's endpoint
// (the web UI reads sandboxes through it), so only a plain host:port
// passes.
func TestRegisterEndpoint(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		ok       bool
	}{
		{"", true}, // not given: the master has no address to use
		{"10.0.0.5:5051", true},
		{"agent-7.example:5051", true},
		{"[::1]:5051", true},
		{"10.0.0.5", false},
		{"10.0.0.5:0", false},
		{"10.0.0.5:99999", false},
		{"10.0.0.5:5051/v1/secret?x=", false},
		{"evil.example:80/x#", false},
		{"user@host:5051", false},
		{":5051", false},
	} {
		c := &Call{Type: CallRegister, Register: &Register{AgentInfo: mesos.AgentInfo{Hostname: "a"}, Endpoint: tc.endpoint}}
		err := c.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("endpoint %q: error %v, want ok=%v", tc.endpoint, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "register.endpoint") {
			t.Errorf("endpoint %q: error %q does not name the field", tc.endpoint, err)
		}
	}
}
