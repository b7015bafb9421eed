package profiles

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestShippedProfilesLoad(t *testing.T) {
	names := Names()
	for _, want := range []string{"small", "mesos-grid", "quota", "targets", "c1m", "twitter", "failover", "quota-heavy"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() = %v, missing %q", names, want)
		}
	}
	for _, name := range names {
		p, err := Load(name)
		if err != nil {
			t.Fatalf("Load(%q): %v", name, err)
		}
		if p.Name != name {
			t.Errorf("profile %q is named %q inside", name, p.Name)
		}
	}
}

// TestShippedProfilesMatchTheIssue checks the figures the load-generator
// issue gives for each profile, so an edit to a JSON file that drifts
// from them fails here.
func TestShippedProfilesMatchTheIssue(t *testing.T) {
	load := func(name string) *Profile {
		t.Helper()
		p, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Run == nil {
			t.Fatalf("%s: no run section: the load generator cannot use it", name)
		}
		return p
	}
	count := func(p *Profile, kind string) (n int) {
		for _, g := range p.Frameworks {
			if g.Kind == kind {
				n += g.Count
			}
		}
		return n
	}

	small := load("small")
	if small.Cluster.Agents != 50 || small.TotalFrameworks() != 5 {
		t.Errorf("small: %d agents and %d frameworks, want 50 and 5", small.Cluster.Agents, small.TotalFrameworks())
	}
	if small.Run.Duration <= 0 || small.Run.Duration.D() > time.Minute {
		t.Errorf("small: runs for %s, want seconds", small.Run.Duration.D())
	}

	// c1m: 100 frameworks × 10,000 tasks = 1,000,000 tasks, no rate limit.
	c1m := load("c1m")
	var tasks int64
	for _, g := range c1m.Frameworks {
		tasks += int64(g.Count) * g.TotalTasks
		if g.Rate != 0 {
			t.Errorf("c1m: a rate of %v; the issue says as fast as the master allows", g.Rate)
		}
	}
	if c1m.Cluster.Agents != 10000 || tasks != 1_000_000 {
		t.Errorf("c1m: %d agents and %d tasks, want 10000 and 1000000", c1m.Cluster.Agents, tasks)
	}

	tw := load("twitter")
	if tw.Cluster.Agents != 30000 || tw.TotalFrameworks() != 300 ||
		count(tw, Service) != 20 || count(tw, Greedy) != 250 || count(tw, Picky) != 30 {
		t.Errorf("twitter: %d agents, %d frameworks (%d service, %d greedy, %d picky), want 30000, 300 (20, 250, 30)",
			tw.Cluster.Agents, tw.TotalFrameworks(), count(tw, Service), count(tw, Greedy), count(tw, Picky))
	}
	for _, g := range tw.Frameworks {
		if g.Kind == Greedy && g.Task.Duration.Median.D() != time.Minute {
			t.Errorf("twitter: batch median %s, want 60s", g.Task.Duration.Median.D())
		}
	}

	fo := load("failover")
	if fo.Cluster.Agents != 10000 || fo.Masters() < 2 || !fo.Run.ZooKeeper ||
		!slices.ContainsFunc(fo.Run.Faults, func(f Fault) bool { return f.Kind == KillLeader }) {
		t.Errorf("failover: %d agents, %d masters, zookeeper %v, faults %v; want 10000, >= 2, true and a leader kill",
			fo.Cluster.Agents, fo.Masters(), fo.Run.ZooKeeper, fo.Run.Faults)
	}

	qh := load("quota-heavy")
	roles := map[string]bool{}
	for _, g := range qh.Frameworks {
		for i := range g.Count {
			if g.Guarantee != "" {
				roles[g.RoleOf(i)] = true
			}
		}
	}
	if len(roles) != 3000 {
		t.Errorf("quota-heavy: %d roles with quota, want 3000", len(roles))
	}
}

func TestBadProfilesNameTheField(t *testing.T) {
	base := `{"name":"x","cluster":{"agents":10,"agent_resources":"cpus:1;mem:32"},"frameworks":[{"kind":"greedy","count":1,"role":"r"}],"bench":{"scenarios":["decline"]}}`
	// load is a valid load profile: one group of each kind but decliner,
	// so that a case can break one field of one of them.
	load := `{"name":"x","cluster":{"agents":10,"agent_resources":"cpus:4;mem:1024","attributes":"rack:r%d","racks":2},
	"frameworks":[
	 {"kind":"greedy","count":1,"role":"r","total_tasks":10,"task":{"resources":"cpus:0.1;mem:32","duration":{"kind":"fixed","median":"1s"}}},
	 {"kind":"service","count":1,"role":"s","instances":2,"task":{"resources":"cpus:1;mem:32","duration":{"kind":"infinite"}}},
	 {"kind":"picky","count":1,"role":"p","rate":1,"decline_fraction":0.5,"attribute_match":"rack:r1","task":{"resources":"cpus:1;mem:32","duration":{"kind":"lognormal","median":"60s","sigma":1}}},
	 {"kind":"bursty","count":1,"role":"b","idle":"1s","flood":"2s","task":{"resources":"cpus:1;mem:32","duration":{"kind":"uniform","min":"1s","max":"2s"}}}],
	"run":{"duration":"1mins","masters":3,"zookeeper":true,"faults":[{"at":"10s","kind":"kill_leader"},{"at":"20s","kind":"partition_agents","fraction":0.5,"for":"5s"}]}}`
	for _, tc := range []struct {
		name, json, old, new, want string
	}{
		{"unknown field", base, `"name":"x"`, `"name":"x","agentz":3`, `agentz: unknown field "agentz"`},
		{"zero agents", base, `"agents":10`, `"agents":0`, "cluster.agents: must be in [1, 1000000], not 0"},
		{"too many agents", base, `"agents":10`, `"agents":2000000`, "cluster.agents: must be in [1, 1000000]"},
		{"bad resources", base, `cpus:1;mem:32`, `cpus:-1`, "cluster.agent_resources"},
		{"bad role", base, `"role":"r"`, `"role":"a//b"`, "frameworks[0].role"},
		{"bad kind", base, `"kind":"greedy"`, `"kind":"lazy"`, "frameworks[0].kind"},
		{"zero count", base, `"count":1`, `"count":0`, "frameworks[0].count"},
		{"bad scenario", base, `["decline"]`, `["declines"]`, "bench.scenarios"},
		{"bad quota", base, `"role":"r"`, `"role":"r","guarantee":"cpus:x"`, "frameworks[0].guarantee"},
		{"guarantee over limit", base, `"role":"r"`, `"role":"r","guarantee":"cpus:2","limit":"cpus:1"`, "frameworks[0].guarantee: cpus:2 is more than the limit"},
		{"wrong type", base, `"agents":10`, `"agents":"10"`, `cluster.agents: want a whole number, not "10"`},
		{"fraction for an int", base, `"agents":10`, `"agents":10.5`, "cluster.agents: want a whole number"},
		{"trailing", base + `{}`, "", "", "trailing data"},
		{"missing name", base, `"name":"x"`, `"name":""`, "name: must be set"},
		{"case folded key", base, `"name":"x"`, `"Name":"x"`, `Name: unknown field`},
		{"bad attributes", base, `"agents":10`, `"agents":10,"attributes":"rack"`, "cluster.attributes"},

		// The load fields: paths with indices, down into the task.
		{"nested unknown field", load, `"median":"60s"`, `"median":"60s","p99":"1s"`, `frameworks[2].task.duration.p99: unknown field`},
		{"bad duration", load, `"median":"60s"`, `"median":"sixty"`, `frameworks[2].task.duration.median: invalid duration "sixty"`},
		{"negative duration", load, `"median":"60s"`, `"median":"-60s"`, `frameworks[2].task.duration.median: invalid duration "-60s": negative`},
		{"duration as a number", load, `"median":"60s"`, `"median":60`, `frameworks[2].task.duration.median: want a duration string`},
		{"zero median", load, `"median":"1s"`, `"median":"0s"`, "frameworks[0].task.duration.median: must be > 0"},
		{"absurd duration", load, `"median":"1s"`, `"median":"500weeks"`, "frameworks[0].task.duration.median: must be in [0, 365days]"},
		{"bad distribution", load, `"kind":"fixed"`, `"kind":"normal"`, "frameworks[0].task.duration.kind"},
		{"field of another distribution", load, `"median":"1s"`, `"median":"1s","mean":"2s"`, "frameworks[0].task.duration.mean: is not for a fixed distribution"},
		{"uniform max below min", load, `"max":"2s"`, `"max":"500ms"`, "frameworks[3].task.duration.max: must be > 0 and >= min"},
		{"sigma out of range", load, `"sigma":1`, `"sigma":11`, "frameworks[2].task.duration.sigma"},
		{"infinite batch", load, `"kind":"fixed"`, `"kind":"infinite"`, "frameworks[0].task.duration.kind: only a service's tasks may run forever"},
		{"task too big", load, `"resources":"cpus:0.1;mem:32"`, `"resources":"cpus:8;mem:32"`, "frameworks[0].task.resources: cpus:8;mem:32 does not fit on an agent"},
		{"task bad resources", load, `"resources":"cpus:0.1;mem:32"`, `"resources":"cpus"`, "frameworks[0].task.resources"},
		{"no task", load, `"total_tasks":10,"task":{"resources":"cpus:0.1;mem:32","duration":{"kind":"fixed","median":"1s"}}`, `"total_tasks":10`, `frameworks[0].task: "greedy" frameworks need a task shape`},
		{"batch without an end", load, `"total_tasks":10,`, ``, "frameworks[0].total_tasks: a batch framework needs total_tasks or rate"},
		{"service without instances", load, `"instances":2`, `"instances":0`, "frameworks[1].instances: a service needs instances > 0"},
		{"instances on a batch", load, `"total_tasks":10`, `"total_tasks":10,"instances":3`, `frameworks[0].instances: is not for "greedy" frameworks`},
		{"negative rate", load, `"rate":1`, `"rate":-1`, "frameworks[2].rate: must be in [0, 1000000]"},
		{"decline fraction over 1", load, `"decline_fraction":0.5`, `"decline_fraction":1.5`, "frameworks[2].decline_fraction: must be in [0, 1]"},
		{"negative refuse", load, `"decline_fraction":0.5`, `"decline_fraction":0.5,"refuse_seconds":-1`, "frameworks[2].refuse_seconds"},
		{"bad attribute match", load, `"attribute_match":"rack:r1"`, `"attribute_match":":r1"`, "frameworks[2].attribute_match"},
		{"bursty without idle", load, `"idle":"1s",`, ``, "frameworks[3].idle: a bursty framework needs idle and flood > 0"},
		{"too many frameworks", load, `"count":1,"role":"r"`, `"count":1000001,"role":"r"`, "frameworks[0].count: must be in [1, 1000000]"},
		{"run too long", load, `"duration":"1mins"`, `"duration":"2years"`, "run.duration: invalid duration"},
		{"fault after the end", load, `"at":"20s"`, `"at":"2mins"`, "run.faults[1].at: 2m0s is after the end of the run (1m0s)"},
		{"bad fault kind", load, `"kind":"kill_leader"`, `"kind":"kill_zk"`, `run.faults[0].kind: "kill_zk" is not one of`},
		{"count and fraction", load, `"fraction":0.5`, `"fraction":0.5,"count":2`, "run.faults[1].count: set exactly one of count and fraction"},
		{"fault count over agents", load, `"fraction":0.5`, `"count":11`, "run.faults[1].count: must be in [0, cluster.agents = 10], not 11"},
		{"fault fraction over 1", load, `"fraction":0.5`, `"fraction":2`, "run.faults[1].fraction: must be in [0, 1]"},
		{"for on a kill", load, `"kind":"kill_leader"`, `"kind":"kill_leader","for":"1s"`, "run.faults[0].for: only a partition lasts for a time"},
		{"leader kill without standby", load, `"masters":3`, `"masters":1`, "run.faults[0].kind: killing the leader needs a standby"},
		{"masters without zookeeper", load, `"zookeeper":true`, `"zookeeper":false`, "run.zookeeper: 3 masters contend through ZooKeeper"},
		{"too many masters", load, `"masters":3`, `"masters":10`, "run.masters: must be in [0, 9]"},
		{"negative arrival", load, `"masters":3`, `"masters":3,"arrival":{"per_second":-1}`, "run.arrival.per_second"},
		{"fault not an object", load, `{"at":"10s","kind":"kill_leader"}`, `"kill_leader"`, `run.faults[0]: want an object, not "kill_leader"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.json
			if tc.old != "" {
				if !strings.Contains(text, tc.old) {
					t.Fatalf("the case's old text %q is not in the profile", tc.old)
				}
				text = strings.Replace(text, tc.old, tc.new, 1)
			}
			_, err := Parse("test", []byte(text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Parse: error %v, want one containing %q", err, tc.want)
			}
		})
	}
	for _, good := range []string{base, load} {
		if _, err := Parse("test", []byte(good)); err != nil {
			t.Fatalf("the base profile should be valid: %v", err)
		}
	}
	if _, err := Load("nope"); err == nil || !strings.Contains(err.Error(), "small") {
		t.Fatalf("Load of an unknown profile: %v, want an error listing the profiles", err)
	}
}

// TestBenchProfilesNeedNoTasks: without a run section the load fields are
// optional, so the bench-only profiles (greedy groups with quota and no
// task, as quota.json) stay valid.
func TestBenchProfilesNeedNoTasks(t *testing.T) {
	p := `{"name":"x","cluster":{"agents":1,"agent_resources":"cpus:1"},"frameworks":[{"kind":"greedy","count":1,"role":"r"}]}`
	if _, err := Parse("test", []byte(p)); err != nil {
		t.Fatalf("a bench profile with a bare greedy group: %v", err)
	}
	withRun := strings.Replace(p, `"frameworks"`, `"run":{},"frameworks"`, 1)
	if _, err := Parse("test", []byte(withRun)); err == nil || !strings.Contains(err.Error(), "frameworks[0].task") {
		t.Fatalf("the same with a run section: %v, want frameworks[0].task to be required", err)
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

func TestFaultAgents(t *testing.T) {
	// 1% of 30,000 agents is 300; 1% of 50 rounds up to 1, so a small
	// cluster still sees the fault.
	for _, tc := range []struct {
		f      Fault
		agents int
		want   int
	}{
		{Fault{Fraction: 0.01}, 30000, 300},
		{Fault{Fraction: 0.01}, 50, 1},
		{Fault{Count: 5}, 50, 5},
	} {
		if got := tc.f.Agents(tc.agents); got != tc.want {
			t.Errorf("%+v.Agents(%d) = %d, want %d", tc.f, tc.agents, got, tc.want)
		}
	}
}

// TestSample draws 20,000 run times from each distribution and checks
// the statistic that defines it: the exponential's mean, the
// lognormal's median, the uniform's bounds, the cap.
func TestSample(t *testing.T) {
	const n = 20000
	draw := func(d Distribution) []time.Duration {
		r := rand.New(rand.NewPCG(1, 2))
		out := make([]time.Duration, n)
		for i := range out {
			v, finite := d.Sample(r)
			if !finite {
				t.Fatalf("%+v: infinite sample", d)
			}
			out[i] = v
		}
		slices.Sort(out)
		return out
	}
	near := func(name string, got, want time.Duration) {
		t.Helper()
		// 20,000 draws: the mean and median are within a few percent.
		if got < want*95/100 || got > want*105/100 {
			t.Errorf("%s = %s, want %s ± 5%%", name, got, want)
		}
	}
	if v := draw(Distribution{Kind: Fixed, Median: Duration(time.Second)}); v[0] != time.Second || v[n-1] != time.Second {
		t.Errorf("fixed 1s: samples in [%s, %s]", v[0], v[n-1])
	}
	exp := draw(Distribution{Kind: Exponential, Mean: Duration(time.Minute)})
	var sum time.Duration
	for _, v := range exp {
		sum += v
	}
	near("exponential mean", sum/n, time.Minute)
	near("lognormal median", draw(Distribution{Kind: Lognormal, Median: Duration(time.Minute)})[n/2], time.Minute)
	if v := draw(Distribution{Kind: Lognormal, Median: Duration(time.Minute), Max: Duration(2 * time.Minute)}); v[n-1] != 2*time.Minute {
		t.Errorf("lognormal capped at 2m: largest sample %s", v[n-1])
	}
	u := draw(Distribution{Kind: Uniform, Min: Duration(time.Second), Max: Duration(3 * time.Second)})
	if u[0] < time.Second || u[n-1] > 3*time.Second {
		t.Errorf("uniform [1s, 3s]: samples in [%s, %s]", u[0], u[n-1])
	}
	near("uniform median", u[n/2], 2*time.Second)
	if _, finite := (Distribution{Kind: Infinite}).Sample(rand.New(rand.NewPCG(1, 2))); finite {
		t.Error("infinite: finite sample")
	}
}
