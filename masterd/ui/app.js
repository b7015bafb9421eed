// meseta master web UI: a hash-routed single page. Each page polls the
// small views under /master/ui/ that it shows (every POLL_MS), never the
// whole state. When a poll fails the page says "disconnected, retrying",
// greys out what it shows (the last data received, not live), backs off
// and recovers by itself. On a standby every view answers
// {"standby": true, "leader": ...} and the page points to the leader.
"use strict";

const POLL_MS = 2000;
const OVERVIEW_MS = 1500;
const CHART_WINDOW_S = 300;
const PAGE_SIZE = 50;

// ---- DOM helpers -------------------------------------------------------

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === undefined || kid === null || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
const $ = (sel, root) => (root || document).querySelector(sel);
function fill(el, ...kids) { if (el) { el.replaceChildren(); el.append(...kids.flat(Infinity).filter(k => k != null && k !== false)); } }

// ---- formatting ----------------------------------------------------------

function fmtNum(x, digits) {
  if (x === undefined || x === null || isNaN(x)) return "–";
  if (digits === undefined) digits = Math.abs(x) >= 100 || Number.isInteger(x) ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  return x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
function fmtMB(mb) {
  if (mb === undefined || mb === null) return "–";
  if (mb >= 1024 * 1024) return fmtNum(mb / 1024 / 1024, 1) + " TB";
  if (mb >= 1024) return fmtNum(mb / 1024, 1) + " GB";
  if (mb === 0) return "0";
  return fmtNum(mb, 0) + " MB";
}
function fmtBytes(b) {
  if (b >= 1 << 30) return fmtNum(b / (1 << 30), 1) + " GiB";
  if (b >= 1 << 20) return fmtNum(b / (1 << 20), 1) + " MiB";
  if (b >= 1 << 10) return fmtNum(b / (1 << 10), 1) + " KiB";
  return b + " B";
}
function fmtRes(name, v) { return name === "mem" || name === "disk" ? fmtMB(v) : fmtNum(v); }
function fmtAgo(secs) {
  if (!secs) return "–";
  const d = Date.now() / 1000 - secs;
  if (d < 0) return "just now";
  if (d < 60) return Math.floor(d) + "s ago";
  if (d < 3600) return Math.floor(d / 60) + "m ago";
  if (d < 86400) return Math.floor(d / 3600) + "h " + Math.floor((d % 3600) / 60) + "m ago";
  return Math.floor(d / 86400) + "d ago";
}
function fmtTime(secs) {
  if (!secs) return "–";
  const d = new Date(secs * 1000);
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
const timeCell = secs => h("td", { title: fmtTime(secs) }, fmtAgo(secs));
const pct = x => fmtNum(x * 100, 1) + "%";
const badge = s => h("span", { class: "badge " + s }, String(s).replace(/^TASK_/, ""));
const shortID = id => id;
// An agent's state: the master's word, and what it means for a person.
function agentBadge(state) {
  switch (state) {
    case "deactivated": return h("span", { class: "badge deactivated", title: "disconnected: the master waits for it to answer its health checks" }, "deactivated");
    case "removed": return h("span", { class: "badge unreachable", title: "the registry records it as gone for good" }, "removed");
    default: return badge(state);
  }
}
const RES = ["cpus", "gpus", "mem", "disk"];
const RES_LABEL = { cpus: "CPUs", gpus: "GPUs", mem: "Mem", disk: "Disk" };
const TASK_STATES = ["TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_FINISHED", "TASK_KILLED",
  "TASK_FAILED", "TASK_LOST", "TASK_ERROR", "TASK_DROPPED", "TASK_UNREACHABLE", "TASK_GONE", "TASK_GONE_BY_OPERATOR", "TASK_UNKNOWN"];

function resSummary(s) {
  if (!s || !(s.cpus || s.mem || s.disk || s.gpus)) return "–";
  const parts = [fmtNum(s.cpus) + " cpus", fmtMB(s.mem) + " mem"];
  if (s.disk) parts.push(fmtMB(s.disk) + " disk");
  if (s.gpus) parts.push(fmtNum(s.gpus) + " gpus");
  return parts.join(" · ");
}
function usageCell(used, total, name, offered) {
  const u = used ? used[name] || 0 : 0, t = total ? total[name] || 0 : 0, o = offered ? offered[name] || 0 : 0;
  const w = t > 0 ? Math.min(100, (u / t) * 100) : 0, wo = t > 0 ? Math.min(100 - w, (o / t) * 100) : 0;
  return h("td", { class: "num" },
    h("span", { class: "bar", title: t > 0 ? pct(u / t) + " allocated" : "" },
      h("span", { style: `width:${w}%` }), h("span", { class: "off", style: `left:${w}%;width:${wo}%` })),
    fmtRes(name, u) + " / " + fmtRes(name, t));
}

// ---- routing -------------------------------------------------------------

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query || "") };
}
function hashFor(parts, params) {
  let s = "#/" + parts.map(encodeURIComponent).join("/");
  const q = params ? params.toString() : "";
  return q ? s + "?" + q : s;
}
function setParams(mut) {
  const r = parseHash();
  mut(r.params);
  history.replaceState(null, "", hashFor(r.parts, r.params));
}

// ---- fetching and connection state ----------------------------------------

const conn = { state: "connecting", failures: 0, lastOK: 0, retryAt: 0, standby: null };

class StandbyError extends Error {
  constructor(body) { super("standby"); this.body = body; }
}

async function getJSON(path) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), 5000);
  try {
    const resp = await fetch(path, { signal: ctl.signal, cache: "no-store", headers: { Accept: "application/json" } });
    const body = await resp.json().catch(() => ({}));
    if (body && body.standby) throw new StandbyError(body);
    if (!resp.ok) {
      const err = new Error((body && (body.error || body.message)) || resp.status + " " + resp.statusText);
      err.status = resp.status;
      throw err;
    }
    return body;
  } finally {
    clearTimeout(timer);
  }
}

function setConn(state) {
  conn.state = state;
  document.body.dataset.conn = state;
  const ban = $("#conn-banner");
  if (state === "disconnected") {
    ban.hidden = false;
  } else {
    ban.hidden = true;
  }
  updateFreshness();
}

function updateFreshness() {
  const f = $("#freshness");
  const ban = $("#conn-banner");
  if (conn.state === "disconnected") {
    const secs = Math.max(0, Math.ceil((conn.retryAt - Date.now()) / 1000));
    fill(ban, "Master unreachable: disconnected, retrying" + (secs > 0 ? " in " + secs + "s" : " now") +
      ". The data below was received " + (conn.lastOK ? fmtAgo(conn.lastOK / 1000) : "never") + " and is not live.");
    f.textContent = "stale since " + (conn.lastOK ? new Date(conn.lastOK).toLocaleTimeString() : "start");
  } else if (conn.state === "live") {
    f.textContent = "live · updated " + new Date(conn.lastOK).toLocaleTimeString();
  } else if (conn.state === "standby") {
    f.textContent = "standby master";
  } else {
    f.textContent = "connecting…";
  }
}
setInterval(updateFreshness, 1000);

function showStandby(body) {
  conn.standby = body;
  const ban = $("#standby-banner");
  ban.hidden = false;
  const leader = body.leader;
  fill(ban, "This master is a standby; it does not manage the cluster. ",
    leader ? ["The leading master is ", h("a", { id: "leader-link", href: "http://" + leader + "/" }, leader), "."]
      : "No leading master is elected at the moment.");
  fill($("#view"), h("h1", {}, "Standby master"),
    h("div", { class: "panel" }, h("dl", { class: "kv" },
      h("dt", {}, "This master"), h("dd", { class: "mono" }, body.id || "–"),
      h("dt", {}, "Cluster"), h("dd", {}, body.cluster || "–"),
      h("dt", {}, "Leader"), h("dd", {}, leader ? h("a", { href: "http://" + leader + "/" }, leader) : "none elected"),
      h("dt", {}, "Masters"), h("dd", { id: "standby-masters" }, mastersList(body.masters)))));
}

function clearStandby() {
  if (conn.standby) {
    conn.standby = null;
    $("#standby-banner").hidden = true;
    route(); // rebuild the page the standby view replaced
  }
}

// ---- the poll loop ----------------------------------------------------------
//
// One page is current; its poll() fetches what it shows and renders it.
// The loop runs it every page.interval ms; failures back off (1 s, 2 s,
// 4 s ... 15 s) until a poll succeeds.

let current = null;   // { poll, interval, gen }
let gen = 0;          // bumps on navigation: stale answers are dropped
let timer = null;

function schedule(ms) {
  clearTimeout(timer);
  timer = setTimeout(tick, ms);
}

async function tick() {
  const page = current, myGen = gen;
  if (!page) return;
  try {
    await page.poll(() => myGen !== gen);
    if (myGen !== gen) return;
    conn.failures = 0;
    conn.lastOK = Date.now();
    if (conn.standby) clearStandby();
    setConn("live");
    document.body.dataset.renders = String(+(document.body.dataset.renders || 0) + 1);
    schedule(page.interval);
  } catch (err) {
    if (myGen !== gen) return;
    if (err instanceof StandbyError) {
      setConn("standby");
      showStandby(err.body);
      conn.lastOK = Date.now();
      schedule(POLL_MS);
      return;
    }
    if (err.status && err.status !== 503) {
      // The master answered: the thing asked for is not there, or the
      // agent behind the sandbox proxy did not answer (502).
      setConn("live");
      conn.lastOK = Date.now();
      if (page.onError) page.onError(err);
      schedule(page.interval);
      return;
    }
    conn.failures++;
    const backoff = Math.min(15000, 1000 * 2 ** Math.min(conn.failures - 1, 4));
    conn.retryAt = Date.now() + backoff;
    setConn("disconnected");
    schedule(backoff);
  }
}

function pollNow() { schedule(0); }

// ---- shared widgets ---------------------------------------------------------

// A table: cols are {label, cell(row) -> td or text, num}.
function table(cols, rows, empty) {
  if (!rows.length) return h("div", { class: "empty" }, empty || "Nothing to show.");
  return h("div", { class: "scroll" }, h("table", {},
    h("thead", {}, h("tr", {}, cols.map(c => h("th", { class: c.num ? "num" : "" }, c.label)))),
    h("tbody", {}, rows.map(r => h("tr", { "data-id": r.id || r.name || "" }, cols.map(c => {
      const v = c.cell(r);
      return v instanceof HTMLElement && v.tagName === "TD" ? v : h("td", { class: c.num ? "num" : c.cls || "" }, v);
    }))))));
}

function pager(page, offset, onGo) {
  const total = page.total, n = page.items.length;
  return h("div", { class: "pager" },
    h("span", { class: "range" }, total ? `${fmtNum(offset + 1)}–${fmtNum(offset + n)} of ${fmtNum(total)}` : "0 of 0"),
    h("button", { disabled: offset <= 0, onclick: () => onGo(Math.max(0, offset - PAGE_SIZE)) }, "‹ Prev"),
    h("button", { disabled: offset + n >= total, onclick: () => onGo(offset + PAGE_SIZE) }, "Next ›"));
}

// A filter toolbar bound to the hash's query parameters. fields are
// {name, type: "search"|"select", options, placeholder}.
function toolbar(fields, params) {
  const bar = h("div", { class: "toolbar" });
  for (const f of fields) {
    let input;
    if (f.type === "select") {
      input = h("select", { name: f.name, "aria-label": f.label },
        f.options.map(([v, l]) => h("option", { value: v, selected: params.get(f.name) === v }, l)));
      input.addEventListener("change", () => { setParams(p => { p.set(f.name, input.value); if (!input.value) p.delete(f.name); p.delete("offset"); }); pollNow(); });
    } else {
      input = h("input", { type: "search", name: f.name, placeholder: f.placeholder, value: params.get(f.name) || "", "aria-label": f.placeholder });
      let debounce;
      input.addEventListener("input", () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => { setParams(p => { if (input.value) p.set(f.name, input.value); else p.delete(f.name); p.delete("offset"); }); pollNow(); }, 250);
      });
    }
    bar.append(input);
  }
  bar.append(h("span", { class: "spacer" }), h("span", { class: "pager-slot" }));
  return bar;
}

function qs(obj) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null && v !== "") p.set(k, v);
  return p.toString();
}

function mastersList(masters) {
  if (!masters || !masters.length) return "–";
  return h("span", {}, masters.map((m, i) => [i ? ", " : "",
    h("a", { href: "http://" + m.hostport + "/" }, m.hostport), " ", m.leader ? badge("leader") : h("span", { class: "badge" }, "standby")]));
}

const fwLink = id => h("a", { href: hashFor(["framework", id]) }, shortID(id));
const agentLink = id => h("a", { href: hashFor(["agent", id]) }, shortID(id));

// ---- charts ----------------------------------------------------------------

const samples = []; // {t (s), sent, launched, cpusAlloc, cpusTotal, memAlloc, memTotal}

function recordSample(o) {
  samples.push({ t: Date.now() / 1000, sent: o.counters.offers_sent, launched: o.counters.tasks_launched,
    cpusA: o.resources.allocated.cpus, cpusT: o.resources.total.cpus, memA: o.resources.allocated.mem, memT: o.resources.total.mem,
    cpusO: o.resources.offered.cpus });
  const cut = Date.now() / 1000 - CHART_WINDOW_S - 5;
  while (samples.length && samples[0].t < cut) samples.shift();
}

// rates turns counter samples into per-second rates between successive
// samples; a gap (a disconnection) breaks the line.
function rates(key) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1], b = samples[i], dt = b.t - a.t;
    if (dt <= 0) continue;
    out.push({ t: b.t, v: dt > 10 ? null : Math.max(0, (b[key] - a[key]) / dt) });
  }
  return out;
}

function chart(title, series, opts) {
  const W = 440, H = 150, L = 44, B = 18, T = 8;
  const now = Date.now() / 1000;
  let maxV = opts.max || 0;
  for (const s of series) for (const p of s.points) if (p.v != null) maxV = Math.max(maxV, p.v);
  if (!opts.max) maxV = maxV > 0 ? niceCeil(maxV * 1.1) : 1;
  const x = t => L + ((t - (now - CHART_WINDOW_S)) / CHART_WINDOW_S) * (W - L - 4);
  const y = v => T + (1 - v / maxV) * (H - T - B);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  for (const f of [0, 0.5, 1]) {
    add("line", { x1: L, x2: W - 4, y1: y(maxV * f), y2: y(maxV * f), stroke: "#e3e7ee", "stroke-width": 1 });
    add("text", { x: L - 6, y: y(maxV * f) + 4, "text-anchor": "end", "font-size": 10, fill: "#6b7685" }, opts.fmt(maxV * f));
  }
  for (const [lbl, t] of [["-5m", now - 300], ["-4m", now - 240], ["-3m", now - 180], ["-2m", now - 120], ["-1m", now - 60], ["now", now]])
    add("text", { x: x(t), y: H - 4, "text-anchor": lbl === "now" ? "end" : "middle", "font-size": 10, fill: "#6b7685" }, lbl);
  for (const s of series) {
    let d = "", pen = false;
    for (const p of s.points) {
      if (p.v == null || p.t < now - CHART_WINDOW_S) { pen = false; continue; }
      d += (pen ? "L" : "M") + x(p.t).toFixed(1) + "," + y(Math.min(p.v, maxV)).toFixed(1);
      pen = true;
    }
    if (d) add("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.8, "vector-effect": "non-scaling-stroke" });
  }
  const last = series.map(s => { const p = s.points.filter(p => p.v != null).pop(); return p ? p.v : null; });
  return h("div", { class: "panel chart", "data-chart": opts.id },
    h("h2", {}, title),
    h("div", { class: "legend" }, series.map((s, i) => h("span", {}, h("i", { style: "background:" + s.color }), s.label + ": ",
      h("b", {}, last[i] == null ? "–" : opts.fmt(last[i]))))),
    svg);
}

function niceCeil(v) {
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

// ---- pages -------------------------------------------------------------------

const pages = {};

pages.overview = () => {
  const root = h("div", {},
    h("h1", {}, "Overview"),
    h("div", { class: "grid cols-3" },
      h("div", { class: "panel", id: "ov-master" }),
      h("div", { class: "panel", id: "ov-agents" }),
      h("div", { class: "panel", id: "ov-frameworks" })),
    h("div", { class: "grid cols-2" },
      h("div", { class: "panel", id: "ov-resources" }),
      h("div", { class: "panel", id: "ov-tasks" })),
    h("div", { class: "grid cols-3", id: "ov-charts" }));
  fill($("#view"), root);
  return {
    interval: OVERVIEW_MS,
    async poll(stale) {
      const o = await getJSON("/master/ui/overview");
      if (stale()) return;
      recordSample(o);
      $("#cluster-name").textContent = o.cluster ? "cluster " + o.cluster : "";
      fill($("#ov-master"), h("h2", {}, "Master"), h("dl", { class: "kv" },
        h("dt", {}, "Cluster"), h("dd", { id: "ov-cluster" }, o.cluster || "(unnamed)"),
        h("dt", {}, "Leader"), h("dd", { class: "mono", id: "ov-leader" }, o.pid),
        h("dt", {}, "Masters"), h("dd", { id: "ov-masters" }, mastersList(o.masters)),
        h("dt", {}, "Version"), h("dd", {}, o.version + " (meseta " + o.meseta_version + ")"),
        h("dt", {}, "Started"), h("dd", { title: fmtTime(o.start_time) }, fmtTime(o.start_time) + " · " + fmtAgo(o.start_time)),
        h("dt", {}, "Elected"), h("dd", { title: fmtTime(o.elected_time) }, fmtTime(o.elected_time) + " · " + fmtAgo(o.elected_time))));
      const stat = (n, l, key, cls, href) => h("a", { class: "stat " + (n > 0 ? cls : ""), href, "data-count": key },
        h("div", { class: "n" }, fmtNum(n)), h("div", { class: "l" }, l));
      fill($("#ov-agents"), h("h2", {}, "Agents"), h("div", { class: "stats" },
        stat(o.agents.active, "active", "agents-active", "ok", "#/agents?state=active"),
        stat(o.agents.deactivated, "deactivated", "agents-deactivated", "warn", "#/agents?state=deactivated"),
        stat(o.agents.unreachable, "unreachable", "agents-unreachable", "bad", "#/agents?state=unreachable"),
        stat(o.agents.removed, "removed", "agents-removed", "bad", "#/agents?state=removed"),
        o.agents.recovering ? stat(o.agents.recovering, "recovering", "agents-recovering", "warn", "#/agents") : null),
        h("p", { class: "muted" }, fmtNum(o.outstanding_offers) + " outstanding offers"));
      fill($("#ov-frameworks"), h("h2", {}, "Frameworks"), h("div", { class: "stats" },
        stat(o.frameworks.active, "active", "frameworks-active", "ok", "#/frameworks?state=active"),
        stat(o.frameworks.inactive, "inactive", "frameworks-inactive", "warn", "#/frameworks?state=inactive"),
        stat(o.frameworks.completed, "completed", "frameworks-completed", "", "#/frameworks?state=completed")));
      const r = o.resources;
      fill($("#ov-resources"), h("h2", {}, "Resources"), h("table", { id: "ov-resource-table" },
        h("thead", {}, h("tr", {}, h("th", {}, ""), ["Total", "Allocated", "Offered", "Idle"].map(l => h("th", { class: "num" }, l)))),
        h("tbody", {}, RES.map(n => h("tr", { "data-res": n }, h("th", {}, RES_LABEL[n]),
          ["total", "allocated", "offered", "idle"].map(k => h("td", { class: "num", "data-kind": k }, fmtRes(n, r[k][n]))))))));
      const states = TASK_STATES.filter(s => o.tasks[s]);
      fill($("#ov-tasks"), h("h2", {}, "Tasks by state"),
        states.length ? h("table", { id: "ov-task-states" }, h("tbody", {}, states.map(s => h("tr", { "data-state": s },
          h("td", {}, h("a", { href: "#/tasks?state=" + s }, badge(s))), h("td", { class: "num", "data-count": s }, fmtNum(o.tasks[s]))))))
          : h("div", { class: "empty" }, "No tasks."));
      const util = (a, t) => samples.map(s => ({ t: s.t, v: s[t] > 0 ? s[a] / s[t] : 0 }));
      fill($("#ov-charts"),
        chart("Allocation rate", [{ label: "tasks launched/s", color: "#2456a6", points: rates("launched") }], { id: "alloc", fmt: v => fmtNum(v, 1) }),
        chart("Offer rate", [{ label: "offers sent/s", color: "#b06a00", points: rates("sent") }], { id: "offers", fmt: v => fmtNum(v, 1) }),
        chart("Utilisation", [
          { label: "CPUs allocated", color: "#2456a6", points: util("cpusA", "cpusT") },
          { label: "Mem allocated", color: "#1f7a3d", points: util("memA", "memT") },
          { label: "CPUs offered", color: "#c58b2b", points: util("cpusO", "cpusT") }], { id: "util", max: 1, fmt: v => fmtNum(v * 100, 0) + "%" }));
    },
  };
};

const fwCols = [
  { label: "ID", cls: "id", cell: f => h("td", { class: "id" }, fwLink(f.id)) },
  { label: "Name", cell: f => f.name },
  { label: "State", cell: f => badge(f.state) },
  { label: "Roles", cell: f => f.roles.join(", ") },
  { label: "Principal", cell: f => f.principal || "–" },
  { label: "Active tasks", num: true, cell: f => fmtNum(f.active_tasks) },
  { label: "CPUs", num: true, cell: f => fmtNum(f.used.cpus) },
  { label: "Mem", num: true, cell: f => fmtMB(f.used.mem) },
  { label: "Disk", num: true, cell: f => fmtMB(f.used.disk) },
  { label: "GPUs", num: true, cell: f => fmtNum(f.used.gpus) },
  { label: "Dominant share", num: true, cell: f => pct(f.dominant_share) },
  { label: "Registered", cell: f => timeCell(f.registered_time) },
  { label: "Re-registered", cell: f => timeCell(f.reregistered_time) },
];

// listPage is a filtered, paged table page over one view.
function listPage(title, view, fields, cols, extra) {
  const { params } = parseHash();
  const slot = h("div", { id: "list" });
  const bar = toolbar(fields, params);
  fill($("#view"), h("h1", {}, title), h("div", { class: "panel" }, bar, slot));
  return {
    interval: POLL_MS,
    async poll(stale) {
      const { params } = parseHash();
      const q = {};
      for (const f of fields) q[f.name] = params.get(f.name) || "";
      const offset = +params.get("offset") || 0;
      const page = await getJSON(`/master/ui/${view}?` + qs({ ...q, ...(extra || {}), offset, limit: PAGE_SIZE }));
      if (stale()) return;
      fill($(".pager-slot", bar), pager(page, page.offset, off => { setParams(p => p.set("offset", off)); pollNow(); }));
      fill(slot, table(cols, page.items, "No " + title.toLowerCase() + " match."));
    },
  };
}

pages.frameworks = () => listPage("Frameworks", "frameworks", [
  { name: "q", placeholder: "Filter by id, name or role" },
  { name: "state", type: "select", label: "state", options: [["", "All states"], ["active", "Active"], ["inactive", "Inactive"], ["completed", "Completed"]] },
], fwCols);

// gone: the master keeps no record of the agent's resources and tasks.
const gone = a => a.state === "unreachable" || a.state === "removed";
const agentCols = [
  { label: "ID", cell: a => h("td", { class: "id" }, agentLink(a.id)) },
  { label: "Hostname", cell: a => h("td", { title: a.endpoint || "" }, a.hostname || "–") },
  { label: "State", cell: a => agentBadge(a.state) },
  { label: "CPUs (allocated / total)", num: true, cell: a => gone(a) ? "–" : usageCell(a.allocated, a.total, "cpus", a.offered) },
  { label: "Mem", num: true, cell: a => gone(a) ? "–" : usageCell(a.allocated, a.total, "mem", a.offered) },
  { label: "Disk", num: true, cell: a => gone(a) ? "–" : usageCell(a.allocated, a.total, "disk", a.offered) },
  { label: "GPUs", num: true, cell: a => gone(a) ? "–" : `${fmtNum(a.allocated.gpus)} / ${fmtNum(a.total.gpus)}` },
  { label: "Tasks", num: true, cell: a => gone(a) ? "–" : fmtNum(a.tasks) },
  { label: "Registered", cell: a => a.state === "unreachable" ? h("td", {}, "unreachable " + fmtAgo(a.unreachable_time))
    : a.state === "removed" ? h("td", {}, "removed " + fmtAgo(a.removed_time)) : timeCell(a.registered_time) },
];

pages.agents = () => listPage("Agents", "agents", [
  { name: "q", placeholder: "Filter by id or hostname" },
  { name: "state", type: "select", label: "state", options: [["", "All states"], ["active", "Active"], ["deactivated", "Deactivated"], ["unreachable", "Unreachable"], ["removed", "Removed"]] },
], agentCols);

const taskCols = [
  { label: "ID", cell: t => h("td", { class: "id", title: t.id }, t.id) },
  { label: "Name", cell: t => h("td", { class: "id", title: t.name }, t.name) },
  { label: "State", cell: t => h("td", { title: [t.reason, t.message].filter(Boolean).join(": ") }, badge(t.state)) },
  { label: "Framework", cell: t => h("td", { class: "id" }, fwLink(t.framework_id)) },
  { label: "Agent", cell: t => h("td", { class: "id" }, agentLink(t.agent_id)) },
  { label: "CPUs", num: true, cell: t => fmtNum(t.resources.cpus) },
  { label: "Mem", num: true, cell: t => fmtMB(t.resources.mem) },
  { label: "Updated", cell: t => timeCell(t.updated) },
  { label: "Sandbox", cell: t => h("a", { class: "sandbox-link", href: hashFor(["agent", t.agent_id, "sandbox"], new URLSearchParams({ framework: t.framework_id, executor: t.executor_id || t.id })) }, "sandbox") },
];
const stateOptions = [["", "All states"], ...TASK_STATES.map(s => [s, s.replace(/^TASK_/, "")])];

pages.tasks = () => listPage("Tasks", "tasks", [
  { name: "q", placeholder: "Search task id or name" },
  { name: "state", type: "select", label: "state", options: stateOptions },
  { name: "framework", placeholder: "Framework id" },
  { name: "agent", placeholder: "Agent id" },
], taskCols);

pages.offers = () => listPage("Offers", "offers", [
  { name: "q", placeholder: "Filter by offer, framework, agent or role" },
], [
  { label: "Offer", cell: o => h("td", { class: "id" }, o.id) },
  { label: "Framework", cell: o => h("td", { class: "id" }, fwLink(o.framework_id)) },
  { label: "Agent", cell: o => h("td", { class: "id" }, agentLink(o.agent_id)) },
  { label: "Role", cell: o => o.role },
  { label: "CPUs", num: true, cell: o => fmtNum(o.resources.cpus) },
  { label: "Mem", num: true, cell: o => fmtMB(o.resources.mem) },
  { label: "Disk", num: true, cell: o => fmtMB(o.resources.disk) },
  { label: "GPUs", num: true, cell: o => fmtNum(o.resources.gpus) },
  { label: "Offered", cell: o => timeCell(o.created) },
]);

pages.roles = () => {
  const slot = h("div", { id: "list" });
  fill($("#view"), h("h1", {}, "Roles"), h("div", { class: "panel" }, slot),
    h("p", { class: "muted" }, "Consumed is what counts against the quota: allocated resources plus unallocated reservations."));
  return {
    interval: POLL_MS,
    async poll(stale) {
      const r = await getJSON("/master/ui/roles");
      if (stale()) return;
      fill(slot, table([
        { label: "Role", cell: x => h("b", {}, x.name) },
        { label: "Weight", num: true, cell: x => fmtNum(x.weight, 2) },
        { label: "Frameworks", num: true, cell: x => h("td", { class: "num", title: x.frameworks.join("\n") }, fmtNum(x.frameworks.length)) },
        { label: "Offered", cell: x => resSummary(x.offered) },
        { label: "Allocated", cell: x => resSummary(x.allocated) },
        { label: "Reserved", cell: x => resSummary(x.reserved) },
        { label: "Quota guarantee", cell: x => resSummary(x.quota_guarantee) === "–" ? "none" : resSummary(x.quota_guarantee) },
        { label: "Quota limit", cell: x => x.quota_limit ? resSummary(x.quota_limit) : "none" },
        { label: "Consumed", cell: x => resSummary(x.consumed) },
      ], r.items, "No roles."));
    },
  };
};

function resourceTable(total, allocated, offered, used) {
  return h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, ""), total ? h("th", { class: "num" }, "Total") : null,
    h("th", { class: "num" }, used ? "Used" : "Allocated"), h("th", { class: "num" }, "Offered"))),
    h("tbody", {}, RES.map(n => h("tr", {}, h("th", {}, RES_LABEL[n]), total ? h("td", { class: "num" }, fmtRes(n, total[n])) : null,
      h("td", { class: "num" }, fmtRes(n, (allocated || used)[n])), h("td", { class: "num" }, fmtRes(n, offered[n]))))));
}

// A paged task table filtered by framework or agent, inside a detail page.
function taskSection(filter) {
  const { params } = parseHash();
  const slot = h("div", {});
  const bar = toolbar([
    { name: "q", placeholder: "Search task id or name" },
    { name: "state", type: "select", label: "state", options: stateOptions },
  ], params);
  return {
    el: h("div", { class: "panel", id: "tasks-panel" }, h("h2", {}, "Tasks"), bar, slot),
    async poll(stale) {
      const { params } = parseHash();
      const offset = +params.get("offset") || 0;
      const page = await getJSON("/master/ui/tasks?" + qs({ ...filter, q: params.get("q"), state: params.get("state"), offset, limit: PAGE_SIZE }));
      if (stale()) return;
      fill($(".pager-slot", bar), pager(page, page.offset, off => { setParams(p => p.set("offset", off)); pollNow(); }));
      fill(slot, table(taskCols, page.items, "No tasks match."));
    },
  };
}

pages.framework = id => {
  const info = h("div", { class: "panel", id: "fw-info" });
  const res = h("div", { class: "panel" });
  const tasks = taskSection({ framework: id });
  const offers = h("div", { class: "panel", id: "fw-offers" });
  fill($("#view"), h("div", { class: "crumbs" }, h("a", { href: "#/frameworks" }, "Frameworks"), " / ", id),
    h("h1", { id: "fw-title" }, "Framework"), h("div", { class: "grid cols-2" }, info, res), tasks.el, offers);
  return {
    interval: POLL_MS,
    onError(err) { fill(info, h("div", { class: "empty" }, "Framework " + id + " is not known to this master: " + err.message)); },
    async poll(stale) {
      const [f] = await Promise.all([getJSON("/master/ui/framework?id=" + encodeURIComponent(id)), tasks.poll(stale)]);
      if (stale()) return;
      fill($("#fw-title"), "Framework ", f.name, " ", badge(f.state));
      fill(info, h("h2", {}, "Details"), h("dl", { class: "kv" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, f.id),
        h("dt", {}, "Roles"), h("dd", {}, f.roles.join(", ") || "–"),
        h("dt", {}, "Principal"), h("dd", {}, f.principal || "–"),
        h("dt", {}, "User / host"), h("dd", {}, (f.user || "–") + " @ " + (f.hostname || "–")),
        h("dt", {}, "Capabilities"), h("dd", {}, f.capabilities.join(", ") || "–"),
        h("dt", {}, "Failover timeout"), h("dd", {}, fmtNum(f.failover_timeout) + " s"),
        h("dt", {}, "Registered"), h("dd", {}, fmtTime(f.registered_time) + " · " + fmtAgo(f.registered_time)),
        h("dt", {}, "Re-registered"), h("dd", {}, f.reregistered_time ? fmtTime(f.reregistered_time) : "–"),
        f.unregistered_time ? [h("dt", {}, "Unregistered"), h("dd", {}, fmtTime(f.unregistered_time))] : null,
        f.webui_url ? [h("dt", {}, "Web UI"), h("dd", {}, h("a", { href: f.webui_url }, f.webui_url))] : null));
      fill(res, h("h2", {}, "Resources"), resourceTable(null, null, f.offered, f.used),
        h("p", {}, "Dominant share ", h("b", {}, pct(f.dominant_share)), " · ", fmtNum(f.active_tasks), " active tasks · ",
          Object.entries(f.task_states).map(([s, n]) => [badge(s), " ", fmtNum(n), "  "])));
      fill(offers, h("h2", {}, "Outstanding offers (" + f.offer_list.length + ")"), table([
        { label: "Offer", cell: o => h("td", { class: "id" }, o.id) },
        { label: "Agent", cell: o => h("td", { class: "id" }, agentLink(o.agent_id)) },
        { label: "Role", cell: o => o.role },
        { label: "Resources", cell: o => resSummary(o.resources) },
        { label: "Offered", cell: o => timeCell(o.created) },
      ], f.offer_list.slice(0, 200), "No outstanding offers."));
    },
  };
};

pages.agent = id => {
  const info = h("div", { class: "panel", id: "agent-info" });
  const res = h("div", { class: "panel" });
  const execs = h("div", { class: "panel", id: "agent-executors" });
  const tasks = taskSection({ agent: id });
  fill($("#view"), h("div", { class: "crumbs" }, h("a", { href: "#/agents" }, "Agents"), " / ", id),
    h("h1", { id: "agent-title" }, "Agent"), h("div", { class: "grid cols-2" }, info, res), execs, tasks.el);
  return {
    interval: POLL_MS,
    onError(err) { fill(info, h("div", { class: "empty" }, "Agent " + id + " is not known to this master: " + err.message)); },
    async poll(stale) {
      const [a, , st] = await Promise.all([getJSON("/master/ui/agent?id=" + encodeURIComponent(id)), tasks.poll(stale),
        // The agent's own list of executors (with their sandboxes), through the master.
        getJSON("/master/ui/agents/" + encodeURIComponent(id) + "/state").catch(err => { if (!err.status) throw err; return null; })]);
      if (stale()) return;
      fill($("#agent-title"), "Agent ", a.hostname || "", " ", h("span", { id: "agent-state" }, agentBadge(a.state)));
      fill(info, h("h2", {}, "Details"), h("dl", { class: "kv" },
        h("dt", {}, "ID"), h("dd", { class: "mono" }, a.id),
        h("dt", {}, "Address"), h("dd", {}, a.endpoint || "–"),
        h("dt", {}, "Version"), h("dd", {}, a.version || "–"),
        h("dt", {}, "Attributes"), h("dd", {}, Object.entries(a.attributes).map(([k, v]) => k + ":" + v).join(", ") || "–"),
        h("dt", {}, "Registered"), h("dd", {}, a.registered_time ? fmtTime(a.registered_time) + " · " + fmtAgo(a.registered_time) : "–"),
        h("dt", {}, "Re-registered"), h("dd", {}, a.reregistered_time ? fmtTime(a.reregistered_time) : "–"),
        a.unreachable_time ? [h("dt", {}, "Unreachable since"), h("dd", {}, fmtTime(a.unreachable_time))] : null,
        a.removed_time ? [h("dt", {}, "Removed"), h("dd", {}, fmtTime(a.removed_time))] : null,
        h("dt", {}, "Sandbox"), h("dd", {}, a.state === "unreachable" || a.state === "removed" ? "not reachable" : h("a", { href: hashFor(["agent", id, "sandbox"]) }, "browse the sandboxes"))));
      fill(res, h("h2", {}, "Resources"), a.state === "unreachable" || a.state === "removed" ? h("div", { class: "empty" }, "The master keeps no record of the resources of an agent it cannot reach.")
        : resourceTable(a.total, a.allocated, a.offered));
      if (st && st.executors) {
        const exs = st.executors.slice().sort((x, y) => x.framework_id.localeCompare(y.framework_id) || x.id.localeCompare(y.id));
        fill(execs, h("h2", {}, "Executors (" + exs.length + ", as the agent reports them)"), table([
          { label: "Executor", cell: e => h("td", { class: "id" }, e.id) },
          { label: "Framework", cell: e => h("td", { class: "id" }, fwLink(e.framework_id)) },
          { label: "Tasks", cell: e => h("td", { class: "wrap" }, (e.tasks || []).map((t, i) => [i ? ", " : "", t.id, " ", badge(t.state)])) },
          { label: "PID", num: true, cell: e => e.pid || "–" },
          { label: "Sandbox", cell: e => h("a", { href: hashFor(["agent", id, "sandbox"], new URLSearchParams({ framework: e.framework_id, executor: e.id })) }, "sandbox") },
        ], exs, "The agent runs no executors."));
      } else {
        fill(execs, h("h2", {}, "Executors (" + a.executors.length + ", as the master knows them)"), table([
          { label: "Executor", cell: e => h("td", { class: "id" }, e.id) },
          { label: "Name", cell: e => e.name || "–" },
          { label: "Framework", cell: e => h("td", { class: "id" }, fwLink(e.framework_id)) },
          { label: "Resources", cell: e => resSummary(e.resources) },
        ], a.executors, a.state === "active" || a.state === "deactivated" ? "The agent did not answer; the master knows of no custom executors." : "The agent cannot be reached."));
      }
    },
  };
};

// The sandbox browser: executors (from the agent's /state, through the
// master), a directory listing, and a file view that follows the file
// by polling /files/read from the last offset.
pages.sandbox = id => {
  const { params } = parseHash();
  const left = h("div", { class: "panel", id: "sandbox-dir" });
  const right = h("div", { class: "panel", id: "sandbox-file" });
  fill($("#view"), h("div", { class: "crumbs" }, h("a", { href: "#/agents" }, "Agents"), " / ", agentLink(id), " / sandbox"),
    h("h1", {}, "Sandbox"), h("div", { class: "grid", style: "grid-template-columns: minmax(0, 2fr) minmax(0, 3fr)" }, left, right));
  const base = "/master/ui/agents/" + encodeURIComponent(id);
  const file = { path: params.get("file") || "", offset: 0, text: "", follow: params.get("follow") !== "0", loaded: false };
  let dir = params.get("dir") || "";
  const out = h("pre", { class: "output", id: "sandbox-output" });
  const follow = h("input", { type: "checkbox", id: "follow", checked: file.follow });
  follow.addEventListener("change", () => { file.follow = follow.checked; setParams(p => p.set("follow", follow.checked ? "1" : "0")); });

  async function resolveDir() {
    if (dir) return;
    const st = await getJSON(base + "/state");
    const want = params.get("executor"), fw = params.get("framework");
    const exs = st.executors || [];
    const ex = exs.find(e => e.id === want && (!fw || e.framework_id === fw)) ||
      exs.find(e => (e.tasks || []).some(t => t.id === want));
    if (ex) {
      dir = ex.directory;
      if (!file.path) file.path = dir + "/stdout";
      setParams(p => { p.set("dir", dir); p.set("file", file.path); });
      return;
    }
    // An executor that ended is no longer in the agent's state, but its
    // sandbox stays on disk until the agent's garbage collection: look
    // under the agent's work_dir, and take the newest run.
    const wd = st.flags && st.flags.work_dir;
    if (want && fw && wd) {
      try {
        const runs = await getJSON(base + "/files/browse?" + qs({ path: `${wd}/slaves/${id}/frameworks/${fw}/executors/${want}/runs` }));
        const run = runs.filter(e => e.mode.startsWith("d")).sort((a, b) => b.mtime - a.mtime)[0];
        if (run) {
          dir = run.path;
          if (!file.path) file.path = dir + "/stdout";
          setParams(p => { p.set("dir", dir); p.set("file", file.path); });
          return;
        }
      } catch (err) {
        if (!err.status) throw err;
      }
    }
    // No executor found: list the agent's executors to choose from.
    fill(left, h("h2", {}, "Executors on this agent"), want ? h("p", { class: "muted" },
      "The agent no longer runs executor " + want + "; its sandbox is not listed by the agent.") : null,
    table([
      { label: "Executor", cell: e => h("td", { class: "id" }, h("a", { href: hashFor(["agent", id, "sandbox"], new URLSearchParams({ dir: e.directory, file: e.directory + "/stdout" })) }, e.id)) },
      { label: "Framework", cell: e => h("td", { class: "id" }, e.framework_id) },
      { label: "Tasks", cell: e => (e.tasks || []).map(t => t.id).join(", ") },
    ], exs, "The agent runs no executors."));
    return "listed";
  }

  async function readMore(stale) {
    if (!file.path) return;
    if (!file.loaded) {
      // Start with the last 64 KiB.
      const size = (await getJSON(base + "/files/read?" + qs({ path: file.path, offset: -1 }))).offset;
      file.offset = Math.max(0, size - 65536);
      file.text = "";
      file.loaded = true;
    } else if (!file.follow) {
      return;
    }
    for (let i = 0; i < 8; i++) {
      const r = await getJSON(base + "/files/read?" + qs({ path: file.path, offset: file.offset, length: 65536 }));
      if (stale()) return;
      if (!r.data) break;
      file.offset = r.offset + new TextEncoder().encode(r.data).length;
      file.text += r.data;
      if (file.text.length > 1 << 20) file.text = file.text.slice(-(1 << 19));
      if (r.data.length < 65536) break;
    }
    const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 8;
    out.textContent = file.text;
    if (file.follow || atBottom) out.scrollTop = out.scrollHeight;
  }

  return {
    interval: 1000,
    onError(err) { fill(right, h("div", { class: "empty" }, "Cannot read from the agent: " + err.message)); },
    async poll(stale) {
      if ((await resolveDir()) === "listed") { fill(right, h("div", { class: "empty" }, "Choose an executor.")); return; }
      const entries = await getJSON(base + "/files/browse?" + qs({ path: dir }));
      if (stale()) return;
      const parent = dir.replace(/\/[^/]+$/, "");
      fill(left, h("h2", {}, "Directory"), h("div", { class: "mono muted", style: "margin-bottom:8px;overflow-wrap:anywhere" }, dir),
        table([
          { label: "Name", cell: e => {
            const name = e.path.split("/").pop();
            const isDir = e.mode.startsWith("d");
            return h("td", { class: "id" }, h("a", { href: "#", "data-path": e.path, onclick: ev => {
              ev.preventDefault();
              if (isDir) { dir = e.path; setParams(p => p.set("dir", dir)); }
              else { file.path = e.path; file.loaded = false; setParams(p => p.set("file", e.path)); }
              pollNow();
            } }, name + (isDir ? "/" : "")));
          } },
          { label: "Size", num: true, cell: e => fmtBytes(e.size) },
          { label: "Modified", cell: e => timeCell(e.mtime) },
          { label: "Mode", cell: e => h("span", { class: "mono" }, e.mode) },
        ], entries, "Empty directory."),
        parent && parent !== dir ? h("p", {}, h("a", { href: "#", onclick: ev => { ev.preventDefault(); dir = parent; setParams(p => p.set("dir", dir)); pollNow(); } }, "↑ parent directory")) : null);
      if (!right.contains(out)) {
        fill(right, h("div", { class: "toolbar" }, h("b", { id: "sandbox-file-name" }, file.path.split("/").pop() || "no file"),
          h("span", { class: "spacer" }), h("label", {}, follow, " follow")), out);
      }
      $("#sandbox-file-name").textContent = file.path ? file.path.split("/").pop() : "no file";
      await readMore(stale);
    },
  };
};

// ---- router ------------------------------------------------------------------

function route() {
  gen++;
  const { parts } = parseHash();
  let name = parts[0] || "overview", page;
  if (name === "agent" && parts[2] === "sandbox") name = "sandbox";
  const make = pages[name] || pages.overview;
  for (const a of document.querySelectorAll("nav a")) {
    const p = a.dataset.page;
    a.classList.toggle("active", p === name || (p + "s") === name || (p === "agents" && name === "sandbox") || (p === "frameworks" && name === "framework") || (p === "agents" && name === "agent"));
  }
  document.body.dataset.page = name;
  document.body.dataset.renders = "0";
  page = make(parts[1]);
  current = page;
  if (conn.standby) showStandby(conn.standby);
  pollNow();
}

window.addEventListener("hashchange", () => {
  // Query changes made by the page itself (replaceState) do not fire;
  // a new path or a typed URL rebuilds the page.
  route();
});
route();
