// The routec operator console: five pages over the admin listener's JSON, no library.
// Everything shown is set with textContent, never as HTML: calls carry caller-supplied text.
"use strict";

const KEEP = 500;          // decisions kept on the Live page
const SHOW = 200;          // rows drawn at most
const DRAW_EVERY = 250;    // ms between redraws, whatever the rate

let csrf = null;
let shape = null;
let timer = null;
const live = { source: null, decisions: [], paused: false, dirty: false, lastDraw: 0, seen: 0, left_out: 0, since: Date.now(), selected: null };

const $ = (sel, root = document) => root.querySelector(sel);
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role" || k === "for" || k === "type" || k === "name" || k === "id" || k === "value" || k === "tabindex" || k === "title") node.setAttribute(k, v === true ? "" : v);
    else node[k] = v;
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}
function say(text) { $("#status").textContent = text; }
// A time as the policy's time zone shows it (the browser's until the policy's is known).
function localTime(text, withDate = false) {
  const options = shape ? { timeZone: shape.timezone } : {};
  const date = new Date(text);
  return withDate ? date.toLocaleString([], options) : date.toLocaleTimeString([], options);
}
// replaceChildren, leaving out what is not there.
function fill(node, ...children) { node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false)); }

async function api(path, options = {}) {
  const init = { credentials: "same-origin", headers: {}, ...options };
  if (init.method && init.method !== "GET" && csrf) init.headers["x-routec-csrf"] = csrf;
  if (init.json !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(init.json);
    delete init.json;
  }
  const response = await fetch(path, init);
  if (response.status === 401) { location.href = "/console/login"; throw new Error("not logged in"); }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    const reason = typeof body === "string" ? body : (body.error || JSON.stringify(body));
    throw new Error(reason);
  }
  return body;
}

// ---- pages ----------------------------------------------------------------

const pages = {
  live: { open: openLive, close: closeLive },
  rules: { open: () => every(5000, loadRules) },
  agents: { open: () => every(2000, loadAgents) },
  playground: { open: openPlayground },
  policy: { open: () => every(5000, loadPolicy) },
};
let current = null;

function every(ms, load) {
  load();
  timer = setInterval(() => { if (!document.hidden) load(); }, ms);
}

function show() {
  const name = (location.hash || "#live").slice(1);
  const page = pages[name] ? name : "live";
  if (current && pages[current].close) pages[current].close();
  clearInterval(timer);
  timer = null;
  current = page;
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.dataset.page !== page;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  say("");
  pages[page].open();
}

// ---- Live -----------------------------------------------------------------

function openLive() {
  fillFilters();
  live.source = new EventSource("/console/api/events");
  live.source.addEventListener("hello", () => say("Connected: decisions appear as calls arrive."));
  live.source.addEventListener("decisions", (e) => {
    const batch = JSON.parse(e.data);
    live.seen += batch.decisions.length + batch.skipped;
    live.left_out += batch.skipped;
    if (live.paused) return;
    for (const d of batch.decisions) live.decisions.push(d);
    if (live.decisions.length > KEEP) live.decisions.splice(0, live.decisions.length - KEEP);
    schedule();
  });
  live.source.onerror = () => say("The live feed is reconnecting…");
  draw();
}

function closeLive() {
  if (live.source) live.source.close();
  live.source = null;
}

function schedule() {
  if (live.dirty) return;
  live.dirty = true;
  const wait = Math.max(0, DRAW_EVERY - (Date.now() - live.lastDraw));
  setTimeout(() => requestAnimationFrame(draw), wait);
}

function matches(d) {
  const rule = $("#filter-rule").value, team = $("#filter-team").value;
  if (rule && d.rule !== rule) return false;
  if (team && d.team !== team) return false;
  if ($("#filter-degraded").checked && !(d.degraded && d.degraded.length)) return false;
  return true;
}

function describe(d) {
  if (d.target === "queue") return `queue ${d.queue || ""}`;
  if (d.target === "flow") return `flow ${d.flow || ""}`;
  if (d.team) return `team ${d.team}`;
  if (d.agents && d.agents.length) return `agent ${d.agents.join(", ")}`;
  return d.target || "";
}

function draw() {
  live.dirty = false;
  live.lastDraw = Date.now();
  const body = $("#live-table tbody");
  const rows = [];
  for (let i = live.decisions.length - 1; i >= 0 && rows.length < SHOW; i--) {
    const d = live.decisions[i];
    if (!matches(d)) continue;
    const time = (d.ts || "").slice(11, 19);
    const row = el("tr", { tabindex: "0", class: d === live.selected ? "selected" : (d.degraded && d.degraded.length ? "degraded" : null), "aria-label": `${time} ${d.rule}: open the trace` },
      el("td", { text: time }),
      el("td", { text: d.from || "—" }),
      el("td", { text: d.digits || "" }),
      el("td", { text: d.rule }),
      el("td", { text: describe(d) }),
      el("td", { text: (d.numbers || []).join(", ") }),
      el("td", { text: (d.degraded || []).join("; ") }),
      el("td", { class: "n", text: d.latency_us !== undefined ? `${(d.latency_us / 1000).toFixed(2)} ms` : "" }));
    row.decision = d;
    rows.push(row);
  }
  body.replaceChildren(...rows);
  $("#live-empty").hidden = rows.length > 0;
  const seconds = Math.max(1, (Date.now() - live.since) / 1000);
  const sample = live.left_out ? ` (a sample: ${live.left_out} not shown)` : "";
  $("#live-rate").textContent = `${live.seen} decisions, ${(live.seen / seconds).toFixed(1)}/s${sample}`;
}

function openTrace(d) {
  live.selected = d;
  const box = $("#trace");
  const steps = (d.trace || []).map((s) => {
    let why;
    if (s.result === "fired") why = "fired";
    else if (s.result === "unavailable") why = "its condition held, but no target was available";
    else if (s.condition) why = `\`${s.condition}\` is ${s.result}`;
    else why = s.result;
    return el("li", { class: s.result === "fired" ? "fired" : null }, el("strong", { text: s.rule }), ": ", why);
  });
  fill(box,
    el("p", {}, el("strong", { text: d.rule }), " decided ", describe(d), d.call_sid ? ` (call ${d.call_sid})` : ""),
    steps.length ? el("ol", { class: "trace" }, steps) : el("p", { class: "muted", text: "No trace: the static fallback answered." }),
    d.degraded && d.degraded.length > 0 ? el("p", { class: "warn", text: `Degraded: ${d.degraded.join("; ")}` }) : null);
  $("#live-detail").hidden = false;
  draw();
  $("#h-trace").focus();
}

async function fillFilters() {
  try {
    shape = shape || await api("/console/api/shape");
    const rules = await api("/console/api/rules");
    const ruleSelect = $("#filter-rule"), teamSelect = $("#filter-team");
    const keep = [ruleSelect.value, teamSelect.value];
    ruleSelect.replaceChildren(el("option", { value: "", text: "all" }), ...rules.rules.map((r) => el("option", { value: r.rule, text: r.rule })));
    teamSelect.replaceChildren(el("option", { value: "", text: "all" }), ...shape.teams.map((t) => el("option", { value: t.name, text: t.name })));
    [ruleSelect.value, teamSelect.value] = keep;
  } catch (e) { say(`Filters: ${e.message}`); }
}

// ---- Rules ----------------------------------------------------------------

async function loadRules() {
  try {
    const data = await api("/console/api/rules");
    const rows = data.rules.map((r) => el("tr", { class: r.warning ? "warned" : null },
      el("td", { class: "n", text: r.position }),
      el("th", { scope: "row", text: r.rule }),
      el("td", { class: "n", text: r.last_15m }),
      el("td", { class: "n", text: r.last_hour }),
      el("td", { class: "n", text: r.today }),
      el("td", {}, el("meter", { min: 0, max: 100, value: r.share, "aria-label": `${r.rule}'s share` }), ` ${r.share}%`),
      el("td", { class: "n", text: r.no_agent }),
      el("td", { class: "n", "data-rule": r.rule, "data-outcome": "answered", text: r.answered }),
      el("td", { class: "n", text: r.missed }),
      el("td", { class: "warn", text: r.warning || "" })));
    $("#rules-table tbody").replaceChildren(...rows);
    const img = $("#graph-img");
    const src = `/console/graph.svg?v=${data.version}`;
    if (img.dataset.src !== src) {
      img.dataset.src = src;
      img.onerror = async () => {
        $("#graph").hidden = true;
        const note = $("#graph-missing");
        note.hidden = false;
        try { await api(src); } catch (e) { note.textContent = e.message; }
      };
      img.onload = () => { $("#graph").hidden = false; $("#graph-missing").hidden = true; };
      img.src = src;
    }
  } catch (e) { say(`Rules: ${e.message}`); }
}

// ---- Agents ---------------------------------------------------------------

const STATUSES = ["available", "break", "offline"];

async function loadAgents() {
  try {
    shape = shape || await api("/console/api/shape");
    const data = await api("/v1/agents");
    const cards = data.agents.map((a) => el("article", { class: `agent ${a.status}`, "aria-labelledby": `agent-${a.name}` },
      el("h3", { id: `agent-${a.name}`, text: a.name }),
      el("p", { class: "status" }, el("span", { class: "badge", text: a.status }), a.reserved_for ? el("span", { class: "muted", text: ` reserved for ${a.reserved_for}` }) : null),
      el("dl", {},
        el("dt", { text: "Number" }), el("dd", { text: a.number }),
        el("dt", { text: "Calls today" }), el("dd", { text: a.calls_today }),
        el("dt", { text: "Last call ended" }), el("dd", { text: a.last_call_ended ? localTime(a.last_call_ended) : "—" }),
        el("dt", { text: "Missed" }), el("dd", { text: a.missed })),
      el("div", { class: "controls", role: "group", "aria-label": `Set ${a.name}'s status` },
        STATUSES.map((s) => el("button", { type: "button", "data-agent": a.name, "data-status": s, "aria-pressed": String(a.status === s), text: s })))));
    $("#agents-board").replaceChildren(...cards);
    if (data.degraded) say(`Agent state: ${data.degraded}`);
    const teams = shape.teams.map((t) => el("tr", {},
      el("th", { scope: "row", text: t.name }),
      el("td", { text: t.strategy + (t.ring ? ` (ring ${t.ring})` : "") }),
      el("td", { text: t.members.join(", ") })));
    $("#teams-table tbody").replaceChildren(...teams);
  } catch (e) { say(`Agents: ${e.message}`); }
}

async function setStatus(agent, status) {
  try {
    await api(`/v1/agents/${encodeURIComponent(agent)}/status`, { method: "PUT", json: { status } });
    say(`${agent} is now ${status}.`);
    loadAgents();
  } catch (e) { say(`Could not set ${agent}: ${e.message}`); }
}

// ---- Playground -----------------------------------------------------------

async function openPlayground() {
  try {
    shape = await api("/console/api/shape");
    const agents = await api("/v1/agents");
    $("#pg-tz").textContent = shape.timezone;
    if (!$("#pg-at").value) $("#pg-at").value = shape.now;
    const groups = shape.facts.map((g) => el("fieldset", { "data-group": g.group },
      el("legend", { text: `Facts: ${g.group}` }),
      g.fields.map((f) => {
        const id = `pg-fact-${g.group}-${f.name}`;
        const input = f.values
          ? el("select", { id, "data-field": f.name, "data-type": f.type }, el("option", { value: "", text: "— missing —" }), f.values.map((v) => el("option", { value: v, text: v })))
          : el("input", { id, "data-field": f.name, "data-type": f.type, placeholder: f.type });
        return el("label", { for: id }, `${f.name} `, input);
      })));
    $("#pg-facts").replaceChildren(...groups);
    const live = new Map(agents.agents.map((a) => [a.name, a.status]));
    const states = shape.agents.map((a) => {
      const id = `pg-agent-${a.name}`;
      const select = el("select", { id, "data-agent": a.name }, ["available", "busy", "break", "offline"].map((s) => el("option", { value: s, text: s })));
      select.value = live.get(a.name) || "available";
      return el("label", { for: id }, `${a.name} `, select);
    });
    $("#pg-agents").replaceChildren(...states);
  } catch (e) { say(`Playground: ${e.message}`); }
}

function playgroundCase() {
  const call = { CallSid: "playground" };
  const from = $("#pg-from").value.trim(), to = $("#pg-to").value.trim(), digits = $("#pg-digits").value.trim();
  if (from) call.CallFrom = from;
  if (to) call.CallTo = to;
  if (digits) call.digits = digits;
  const c = { call };
  const at = $("#pg-at").value;
  if (at) c.at = at.length === 16 ? `${at}:00` : at;
  const facts = {};
  for (const fieldset of document.querySelectorAll("#pg-facts fieldset")) {
    const group = {};
    for (const input of fieldset.querySelectorAll("[data-field]")) {
      const v = input.value.trim();
      if (!v) continue;
      group[input.dataset.field] = input.dataset.type === "number" ? Number(v) : input.dataset.type === "bool" ? v === "true" : v;
    }
    if (Object.keys(group).length) facts[fieldset.dataset.group] = group;
  }
  if (Object.keys(facts).length) c.facts = facts;
  const agents = {};
  for (const select of document.querySelectorAll("#pg-agents select")) agents[select.dataset.agent] = { status: select.value };
  c.agents = agents;
  return c;
}

function decisionView(title, d) {
  if (!d) return null;
  if (d.error) return el("section", { class: "result" }, el("h2", { text: title }), el("p", { class: "warn", text: d.error }));
  return el("section", { class: "result", "data-which": title.toLowerCase().split(" ")[0] },
    el("h2", { text: title }),
    el("p", { class: "rule" }, "Rule ", el("strong", { class: "rule-name", text: d.rule }), ` → ${describe(d)}`),
    d.numbers && d.numbers.length ? el("p", { text: `Dials ${d.numbers.join(", ")}${d.parallel_ringing ? " (all at once)" : ""}` }) : null,
    d.degraded && d.degraded.length ? el("p", { class: "warn", text: `Degraded: ${d.degraded.join("; ")}` }) : null,
    el("pre", { class: "explain", text: d.explain }));
}

async function runPlayground(event) {
  event.preventDefault();
  try {
    const result = await api("/console/api/playground", { method: "POST", json: playgroundCase() });
    fill($("#pg-result"), decisionView("Active policy", result.active), decisionView("Candidate (shadow)", result.candidate));
  } catch (e) {
    $("#pg-result").replaceChildren(el("p", { class: "warn", role: "alert", text: e.message }));
  }
}

// ---- Policy ---------------------------------------------------------------

async function loadPolicy() {
  try {
    const p = await api("/v1/policy");
    showPolicy(p);
  } catch (e) { say(`Policy: ${e.message}`); }
}

function showPolicy(p) {
  const facts = [["Name", p.policy], ["Version", p.version], ["Loaded at", p.loaded_at ? localTime(p.loaded_at, true) : "—"], ["Rules", p.rules], ["Files", (p.files || []).join("\n")]];
  $("#policy-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v ?? "—" })]));
  $("#policy-error").textContent = p.last_reload_error || "none";
  $("#policy-name").textContent = p.policy ? `${p.policy} · ${p.version}` : "";
}

async function reloadPolicy() {
  const button = $("#reload");
  button.disabled = true;
  try {
    const r = await api("/v1/reload", { method: "POST" });
    say(`Reloaded: version ${r.version}.`);
  } catch (e) {
    say("The reload failed; the previous version is still serving.");
  } finally {
    button.disabled = false;
    shape = null;
    loadPolicy();
  }
}

// ---- start ----------------------------------------------------------------

async function start() {
  try {
    const session = await api("/console/api/session");
    csrf = session.csrf;
    $("#logout").hidden = !session.login;
  } catch (e) { say(e.message); return; }
  $("#live-table tbody").addEventListener("click", (e) => { const row = e.target.closest("tr"); if (row && row.decision) openTrace(row.decision); });
  $("#live-table tbody").addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { const row = e.target.closest("tr"); if (row && row.decision) { e.preventDefault(); openTrace(row.decision); } } });
  for (const id of ["#filter-rule", "#filter-team", "#filter-degraded"]) $(id).addEventListener("change", () => draw());
  $("#live-pause").addEventListener("click", (e) => { live.paused = !live.paused; e.target.setAttribute("aria-pressed", String(live.paused)); e.target.textContent = live.paused ? "Resume" : "Pause"; });
  $("#agents-board").addEventListener("click", (e) => { const b = e.target.closest("button[data-status]"); if (b) setStatus(b.dataset.agent, b.dataset.status); });
  $("#playground-form").addEventListener("submit", runPlayground);
  $("#reload").addEventListener("click", reloadPolicy);
  $("#logout").addEventListener("click", async () => { await fetch("/console/logout", { method: "POST", credentials: "same-origin", headers: { "x-routec-csrf": csrf } }); location.href = "/console/login"; });
  $("#h-trace").tabIndex = -1;
  window.addEventListener("hashchange", show);
  loadPolicyName();
  show();
}

async function loadPolicyName() {
  try { showPolicyName(await api("/v1/policy")); } catch (e) { /* shown on the Policy page */ }
}
function showPolicyName(p) { $("#policy-name").textContent = p.policy ? `${p.policy} · ${p.version}` : ""; }

document.addEventListener("DOMContentLoaded", start);
