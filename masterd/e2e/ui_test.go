package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"meseta/core/daemon/launch"
	"meseta/core/mesos"
)

// The web UI's tests drive Debian's chromium, headless, over the DevTools
// protocol (chromedp), against a real masterd with real agents running
// real tasks, and check what a person would: the overview's counts
// against /master/state, a task's stdout in the sandbox view (followed
// live), a killed agent shown unreachable, the "disconnected, retrying"
// state while the master does not answer, and a standby pointing to the
// leader. Every page is screenshotted at 1440x900 into the test's
// artifact directory: run with
//
//	go test -count=1 -run 'TestUI' -artifacts -outputdir /tmp/meseta-ui ./masterd/e2e
//
// to keep them (the directory is printed). TestUIScreenshotsSmall, run
// only with MESETA_UI_LOADGEN=1, takes them with `loadgen -profile small`
// driving the master.
//
// Nothing here sleeps to synchronise: each step waits for a condition on
// the page (a JavaScript expression) with a deadline.

// chromium finds the browser; without one the tests skip, unless CI is
// set (make deps installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found, and CI is set: `make deps` installs it (apt-get install chromium)")
	}
	t.Skip("chromium not found (`make deps` installs it); skipping the browser tests")
	return ""
}

// browser is one headless chromium, stopped when the test ends.
type browser struct {
	t    *testing.T
	ctx  context.Context
	dir  string // screenshots
	shot int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.WindowSize(1440, 900), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true))
	// Bounds the whole browser session; each wait has its own deadline.
	base, cancelBase := context.WithTimeout(context.Background(), 4*time.Minute)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // kills chromium and waits for it
		cancelBase()
	})
	b := &browser{t: t, ctx: ctx, dir: t.ArtifactDir()}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil {
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	t.Logf("screenshots of this test go to %s", b.dir)
	return b
}

func (b *browser) open(url string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("open %s: %v", url, err)
	}
}

// goTo changes the page's hash, as clicking a link in the UI does.
func (b *browser) goTo(hash string) {
	b.t.Helper()
	b.eval(fmt.Sprintf("location.hash = %q, true", hash))
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	out, err := chromedp.Run(b.ctx, chromedp.Evaluate[json.RawMessage](expr))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return string(out)
}

// waitFor polls the JavaScript condition expr until it is true, for at
// most d; on timeout it saves a screenshot and shows the page's text.
func (b *browser) waitFor(d time.Duration, what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout")
			text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body.innerText"))
			b.t.Fatalf("timed out after %v waiting for %s (%s; err %v); the page says:\n%s", d, what, expr, err, text)
		}
		time.Sleep(50 * time.Millisecond) // a polling interval, not a synchronisation
	}
}

// rendered waits for the page (its name in body[data-page]) to have
// drawn n answers of the master, live.
func (b *browser) rendered(page string, n int) {
	b.t.Helper()
	b.waitFor(20*time.Second, page+" rendered live", fmt.Sprintf(
		`document.body.dataset.page === %q && document.body.dataset.conn === "live" && +document.body.dataset.renders >= %d`, page, n))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.shot++
	file := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
}

// uiCounts is what the overview shows, read from the page.
type uiCounts struct {
	Active, Deactivated, Unreachable int
	Tasks                            map[string]int
	CPUs                             string
}

const readOverview = `JSON.stringify((() => {
	const n = k => +(document.querySelector('[data-count="' + k + '"] .n') || {textContent: "-1"}).textContent.replace(/,/g, "");
	const tasks = {};
	for (const r of document.querySelectorAll("#ov-task-states tr")) tasks[r.dataset.state] = +r.querySelector("td.num").textContent.replace(/,/g, "");
	const cpus = document.querySelector('#ov-resource-table tr[data-res="cpus"] td[data-kind="total"]');
	return {Active: n("agents-active"), Deactivated: n("agents-deactivated"), Unreachable: n("agents-unreachable"),
		Tasks: tasks, CPUs: cpus ? cpus.textContent : ""};
})())`

// stateCounts computes the same figures from /master/state.
func stateCounts(st map[string]any) uiCounts {
	c := uiCounts{Active: int(num(st["activated_slaves"])), Deactivated: int(num(st["deactivated_slaves"])),
		Unreachable: int(num(st["unreachable_slaves"])), Tasks: map[string]int{}}
	for _, key := range []string{"frameworks", "completed_frameworks"} {
		fws, _ := st[key].([]any)
		for _, f := range fws {
			fm := f.(map[string]any)
			for _, list := range []string{"tasks", "unreachable_tasks", "completed_tasks"} {
				ts, _ := fm[list].([]any)
				for _, tk := range ts {
					c.Tasks[tk.(map[string]any)["state"].(string)]++
				}
			}
		}
	}
	cpus := 0.0
	agents, _ := st["slaves"].([]any)
	for _, a := range agents {
		cpus += num(a.(map[string]any)["resources"].(map[string]any)["cpus"])
	}
	c.CPUs = strconv.FormatFloat(cpus, 'f', -1, 64)
	return c
}

func (c uiCounts) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// agentID is the id the master gave the agent p.
func agentID(t *testing.T, p *proc) string {
	t.Helper()
	var id string
	eventually(t, 10*time.Second, p.name+" registered", func() bool {
		id, _ = getJSON(t, "http://"+p.addr+"/state")["id"].(string)
		return id != ""
	})
	return id
}

// TestUIPages walks every page of the UI on a master with two agents and
// a framework running tasks on the first: the overview agrees with
// /master/state, each list shows what it should, a search finds a task,
// its sandbox shows its stdout and follows it, and the second agent,
// killed, shows as unreachable.
func TestUIPages(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t, clusterOpts{agents: 2, masterFlags: []string{"--cluster=ui-test",
		"--agent_ping_timeout=500ms", "--max_agent_ping_timeouts=3"}})
	a0, a1 := agentID(t, c.agents[0]), agentID(t, c.agents[1])

	// Three long tasks that print a line every half second, and one that
	// finishes, all on agent0 (agent1 is killed below and must leave no
	// executor behind).
	f := subscribe(t, c.master.addr, newFrameworkInfo("ui-framework"))
	tasks := []string{"ui-run-1", "ui-run-2", "ui-run-3", "ui-done-1"}
	for launched := false; !launched; {
		for _, o := range f.nextOffers(20 * time.Second) {
			if o.AgentID.Value != a0 || launched {
				f.decline([]mesos.Offer{o}, 3600)
				continue
			}
			var infos []mesos.TaskInfo
			for _, id := range tasks {
				cmd := `echo hello-ui-$MESOS_TASK_ID; i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.3; done`
				if strings.HasPrefix(id, "ui-done") {
					cmd = "echo finished-ui"
				}
				infos = append(infos, commandTask(id, o, "cpus:0.5;mem:32", cmd))
			}
			f.launch(o, infos, 0)
			launched = true
		}
	}
	for _, id := range tasks[:3] {
		f.waitState(id, mesos.TaskRunning, 30*time.Second)
	}
	f.waitState("ui-done-1", mesos.TaskFinished, 30*time.Second)

	// Overview: the counts agree with /master/state (polled until both
	// sides have caught up with the same moment).
	b.open(c.url("/"))
	b.rendered("overview", 1)
	var shown, want uiCounts
	eventually(t, 20*time.Second, "the overview's counts to match /master/state", func() bool {
		if err := json.Unmarshal([]byte(mustUnquote(t, b.eval(readOverview))), &shown); err != nil {
			t.Fatal(err)
		}
		want = stateCounts(getJSON(t, c.url("/master/state")))
		return shown.String() == want.String()
	})
	if shown.Active != 2 || shown.Tasks["TASK_RUNNING"] != 3 || shown.Tasks["TASK_FINISHED"] != 1 {
		t.Fatalf("overview shows %v; want 2 active agents, 3 running tasks and 1 finished", shown)
	}
	b.waitFor(10*time.Second, "the cluster name and leader", `document.querySelector("#ov-cluster").textContent === "ui-test" &&
		document.querySelector("#ov-leader").textContent.includes(`+strconv.Quote(c.master.addr)+`)`)
	b.rendered("overview", 4) // a few samples for the charts
	b.screenshot("overview")

	// Frameworks, and the framework's own page with its tasks.
	b.goTo("#/frameworks")
	b.rendered("frameworks", 1)
	b.waitFor(10*time.Second, "the framework's row", fmt.Sprintf(
		`(r => r && r.innerText.includes("ui-framework") && r.innerText.includes("active"))(document.querySelector('tr[data-id=%q]'))`, f.id))
	b.screenshot("frameworks")
	b.goTo("#/framework/" + f.id)
	b.rendered("framework", 1)
	b.waitFor(10*time.Second, "the framework's tasks", `["ui-run-1", "ui-run-2", "ui-run-3", "ui-done-1"].every(id => document.querySelector('#tasks-panel tr[data-id="' + id + '"]'))`)
	b.screenshot("framework")

	// Agents, and agent0's page with its tasks.
	b.goTo("#/agents")
	b.rendered("agents", 1)
	b.waitFor(10*time.Second, "both agents active", fmt.Sprintf(
		`[%q, %q].every(id => (r => r && r.innerText.includes("active"))(document.querySelector('tr[data-id="' + id + '"]')))`, a0, a1))
	b.screenshot("agents")
	b.goTo("#/agent/" + a0)
	b.rendered("agent", 1)
	b.waitFor(10*time.Second, "agent0's running tasks", `document.querySelectorAll("#tasks-panel tbody tr[data-id^='ui-run-']").length === 3 &&
		document.querySelectorAll("#agent-executors tbody tr[data-id^='ui-run-']").length === 3`)
	b.screenshot("agent")

	// Tasks: a search narrows the list to one task, filtered by the master.
	b.goTo("#/tasks")
	b.rendered("tasks", 1)
	b.waitFor(10*time.Second, "four tasks listed", `document.querySelectorAll("tbody tr").length === 4`)
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(`input[name="q"]`, "ui-run-2")); err != nil {
		t.Fatal(err)
	}
	b.waitFor(10*time.Second, "the search to find ui-run-2 alone", `document.querySelectorAll("tbody tr").length === 1 &&
		document.querySelector('tbody tr[data-id="ui-run-2"]') && document.querySelector(".pager .range").textContent === "1–1 of 1"`)
	b.screenshot("tasks-search")

	// The task's sandbox: its stdout, followed as it grows.
	if err := chromedp.Do(b.ctx, chromedp.Click(`tr[data-id="ui-run-2"] a.sandbox-link`)); err != nil {
		t.Fatal(err)
	}
	b.waitFor(20*time.Second, "ui-run-2's stdout in the sandbox view", `(document.querySelector("#sandbox-output") || {}).textContent.includes("hello-ui-ui-run-2")`)
	ticks := func() int {
		out := mustUnquote(t, b.eval(`document.querySelector("#sandbox-output").textContent`))
		m := regexp.MustCompile(`tick-(\d+)\n?$`).FindStringSubmatch(strings.TrimSpace(out))
		if m == nil {
			return 0
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	first := ticks()
	b.waitFor(20*time.Second, "the sandbox view to follow new output", fmt.Sprintf(
		`(m => m && +m[1] >= %d)(document.querySelector("#sandbox-output").textContent.trim().match(/tick-(\d+)$/))`, first+3))
	b.waitFor(5*time.Second, "a directory listing with stdout and stderr", `["stdout", "stderr"].every(n => [...document.querySelectorAll("#sandbox-dir a[data-path]")].some(a => a.textContent === n))`)
	b.screenshot("sandbox")

	// Roles and offers.
	b.goTo("#/roles")
	b.rendered("roles", 1)
	b.waitFor(10*time.Second, "the default role", `document.querySelector('tr[data-id="*"]')`)
	b.screenshot("roles")
	b.goTo("#/offers")
	b.rendered("offers", 1)
	b.screenshot("offers")

	// Kill agent1: it misses its health checks (3 of 500 ms) and the
	// master marks it unreachable; the agents page shows it so, the
	// overview counts it.
	c.agents[1].kill()
	b.goTo("#/agents")
	b.waitFor(30*time.Second, "agent1 listed as unreachable", fmt.Sprintf(
		`(r => r && r.querySelector(".badge.unreachable") && r.innerText.includes("unreachable"))(document.querySelector('tr[data-id=%q]'))`, a1))
	b.screenshot("agents-unreachable")
	b.goTo("#/")
	b.waitFor(20*time.Second, "the overview to count the unreachable agent", `(e => e && e.textContent === "1")(document.querySelector('[data-count="agents-unreachable"] .n'))`)
	eventually(t, 20*time.Second, "the overview's counts to match /master/state", func() bool {
		if err := json.Unmarshal([]byte(mustUnquote(t, b.eval(readOverview))), &shown); err != nil {
			t.Fatal(err)
		}
		want = stateCounts(getJSON(t, c.url("/master/state")))
		return shown.String() == want.String()
	})
	if shown.Active != 1 || shown.Deactivated != 0 {
		t.Fatalf("after killing agent1 the overview shows %v, want 1 active agent and none deactivated", shown)
	}
	b.screenshot("overview-unreachable")
}

// mustUnquote decodes a JSON string the page returned.
func mustUnquote(t *testing.T, s string) string {
	t.Helper()
	var out string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("not a JSON string: %s", s)
	}
	return out
}

// TestUIDisconnected stops the master (SIGSTOP): the page says it is
// disconnected and retrying and greys out what it shows; resumed, it is
// live again without a reload.
func TestUIDisconnected(t *testing.T) {
	b := newBrowser(t)
	c := newCluster(t, clusterOpts{agents: 0})
	b.open(c.url("/"))
	b.rendered("overview", 2)
	c.master.signal(syscall.SIGSTOP)
	stopped := true
	t.Cleanup(func() {
		if stopped {
			_ = c.master.cmd.Process.Signal(syscall.SIGCONT)
		}
	})
	b.waitFor(30*time.Second, "the disconnected banner", `document.body.dataset.conn === "disconnected" &&
		!document.querySelector("#conn-banner").hidden &&
		document.querySelector("#conn-banner").textContent.includes("disconnected, retrying") &&
		+getComputedStyle(document.querySelector("main")).opacity < 1`)
	b.screenshot("disconnected")
	c.master.signal(syscall.SIGCONT)
	stopped = false
	before := mustUnquote(t, b.eval(`document.body.dataset.renders`))
	b.waitFor(30*time.Second, "the page live again", `document.body.dataset.conn === "live" && document.querySelector("#conn-banner").hidden &&
		+document.body.dataset.renders > `+before)
	b.screenshot("reconnected")
}

// TestUIStandby opens the UI of a standby master: it says it is a
// standby and links to the leader; the leader's overview lists both.
func TestUIStandby(t *testing.T) {
	b := newBrowser(t)
	c := newHACluster(t, 2, 0)
	li, leader := c.waitLeader(30 * time.Second)
	standby := c.masters[1-li].addr
	b.open("http://" + standby + "/")
	b.waitFor(30*time.Second, "the standby banner linking to the leader", fmt.Sprintf(
		`document.body.dataset.conn === "standby" && !document.querySelector("#standby-banner").hidden &&
		document.querySelector("#standby-banner").textContent.includes("standby") &&
		(a => a && a.getAttribute("href") === %q)(document.querySelector("#leader-link"))`, "http://"+leader+"/"))
	b.waitFor(20*time.Second, "the standby to list both masters", fmt.Sprintf(
		`(e => e && e.textContent.includes(%q) && e.textContent.includes(%q))(document.querySelector("#standby-masters"))`, leader, standby))
	b.screenshot("standby")
	b.open("http://" + leader + "/")
	b.rendered("overview", 1)
	b.waitFor(20*time.Second, "the leader's overview to list the standby", fmt.Sprintf(
		`(e => e && e.textContent.includes(%q) && e.textContent.includes(%q) && e.textContent.includes("standby"))(document.querySelector("#ov-masters"))`,
		leader, standby))
	b.screenshot("leader-overview")
}

// TestUIScreenshotsSmall screenshots every page while loadgen's small
// profile drives the master (50 simulated agents, 5 frameworks). It runs
// only with MESETA_UI_LOADGEN=1 (it takes about a minute):
//
//	MESETA_UI_LOADGEN=1 go test -count=1 -run TestUIScreenshotsSmall -artifacts -outputdir /tmp/meseta-ui ./masterd/e2e
func TestUIScreenshotsSmall(t *testing.T) {
	if os.Getenv("MESETA_UI_LOADGEN") == "" {
		t.Skip("set MESETA_UI_LOADGEN=1 to screenshot the UI under loadgen -profile small")
	}
	b := newBrowser(t)
	c := newCluster(t, clusterOpts{agents: 0, masterFlags: []string{"--cluster=small", "--allocation_interval=1s"}})
	lg := filepath.Join(bin.dir, "loadgen")
	if err := launch.Build(lg, "./loadgen", false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, lg, "-profile", "small", "-master", c.master.addr, "-duration", "3m")
	cmd.Dir = t.TempDir()
	logf, _ := os.Create(filepath.Join(cmd.Dir, "loadgen.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logf.Close()
	})
	b.open(c.url("/"))
	b.waitFor(60*time.Second, "50 active agents and running tasks", `(document.querySelector('[data-count="agents-active"] .n') || {}).textContent === "50" &&
		document.querySelector('#ov-task-states tr[data-state="TASK_RUNNING"]')`)
	b.waitFor(90*time.Second, "about 45 s of chart samples", `document.body.dataset.conn === "live" && +document.body.dataset.renders >= 30`)
	b.screenshot("small-overview")
	for _, p := range []string{"frameworks", "agents", "roles", "offers", "tasks"} {
		b.goTo("#/" + p)
		b.rendered(p, 1)
		b.screenshot("small-" + p)
	}
	b.goTo("#/tasks?state=TASK_RUNNING")
	b.rendered("tasks", 1)
	b.screenshot("small-tasks-running")
	// The first running task's framework (4th column) and agent (5th).
	cell := func(i int) string {
		return mustUnquote(t, b.eval(fmt.Sprintf(`document.querySelector("tbody tr").querySelectorAll("td")[%d].innerText`, i)))
	}
	fw, ag := cell(3), cell(4)
	b.goTo("#/agent/" + ag)
	b.rendered("agent", 1)
	b.screenshot("small-agent")
	b.goTo("#/framework/" + fw)
	b.rendered("framework", 1)
	b.screenshot("small-framework")
}
