package profiles

import (
	"strings"
	"testing"
)

func TestShippedProfilesLoad(t *testing.T) {
	names := Names()
	for _, want := range []string{"small", "mesos-grid", "quota", "targets"} {
		p, err := Load(want)
		if err != nil {
			t.Fatalf("Load(%q): %v", want, err)
		}
		if p.Name != want {
			t.Errorf("profile %q is named %q inside", want, p.Name)
		}
	}
	if len(names) < 3 {
		t.Errorf("Names() = %v, want at least the three shipped profiles", names)
	}
}

func TestBadProfilesNameTheField(t *testing.T) {
	base := `{"name":"x","cluster":{"agents":10,"agent_resources":"cpus:1;mem:32"},"frameworks":[{"kind":"greedy","count":1,"role":"r"}],"bench":{"scenarios":["decline"]}}`
	for _, tc := range []struct {
		name, json, want string
	}{
		{"unknown field", strings.Replace(base, `"name":"x"`, `"name":"x","agentz":3`, 1), `unknown field "agentz"`},
		{"zero agents", strings.Replace(base, `"agents":10`, `"agents":0`, 1), "cluster.agents: must be > 0"},
		{"bad resources", strings.Replace(base, `cpus:1;mem:32`, `cpus:-1`, 1), "cluster.agent_resources"},
		{"bad role", strings.Replace(base, `"role":"r"`, `"role":"a//b"`, 1), "frameworks[0].role"},
		{"bad kind", strings.Replace(base, `"kind":"greedy"`, `"kind":"lazy"`, 1), "frameworks[0].kind"},
		{"zero count", strings.Replace(base, `"count":1`, `"count":0`, 1), "frameworks[0].count"},
		{"bad scenario", strings.Replace(base, `["decline"]`, `["declines"]`, 1), "bench.scenarios"},
		{"bad quota", strings.Replace(base, `"role":"r"`, `"role":"r","guarantee":"cpus:x"`, 1), "frameworks[0].guarantee"},
		{"wrong type", strings.Replace(base, `"agents":10`, `"agents":"10"`, 1), "cluster.agents"},
		{"trailing", base + `{}`, "trailing data"},
		{"missing name", strings.Replace(base, `"name":"x"`, `"name":""`, 1), "name: must be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("test", []byte(tc.json))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Parse("test", []byte(base)); err != nil {
		t.Fatalf("the base profile should be valid: %v", err)
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "small") {
		t.Fatalf("Load of an unknown profile: %v, want an error listing the profiles", err)
	}
}

func TestRoleOf(t *testing.T) {
	g := FrameworkGroup{Role: "team%d/batch"}
	if got := g.RoleOf(7); got != "team7/batch" {
		t.Fatalf("RoleOf(7) = %q", got)
	}
	if got := (FrameworkGroup{Role: "r"}).RoleOf(3); got != "r" {
		t.Fatalf("RoleOf on a fixed role = %q", got)
	}
}
