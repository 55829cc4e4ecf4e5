// dsm live view: one Server-Sent Events stream from dsmd (/events) keeps
// this page current. Nothing is fetched from anywhere else.
"use strict";

const $ = (id) => document.getElementById(id);
const state = {
  es: null, write: false, limit: 500, match: "", vars: new Map(),
  gone: null, everLive: false, retry: null,
};

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) e.append(k);
  return e;
}

function ago(ms) {
  if (ms < 0) ms = 0;
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  if (s < 86400) return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  return Math.floor(s / 86400) + " d " + Math.floor((s % 86400) / 3600) + " h";
}

function clock(t) { return new Date(t).toLocaleTimeString(); }

function setStatus(kind, text) {
  const s = $("status");
  s.className = "status " + kind;
  s.textContent = text;
  document.body.dataset.status = kind;
}

// --- variables ---------------------------------------------------------

function varRow(u) {
  const name = state.write
    ? el("button", { type: "button", className: "link", textContent: u.name, title: "set " + u.name })
    : document.createTextNode(u.name);
  if (state.write) name.addEventListener("click", () => {
    $("set-name").value = u.name;
    $("set-value").value = state.vars.get(u.name)?.data.value ?? "";
    $("set-value").focus();
  });
  const tr = el("tr", {},
    el("td", { className: "name" }, name),
    el("td", { className: "value" }),
    el("td", { className: "num version" }),
    el("td", { className: "changed" }));
  tr.dataset.name = u.name;
  return tr;
}

function fillRow(tr, u) {
  tr.querySelector(".value").textContent = u.error ? "damaged: " + u.error : u.deleted ? "(deleted)" : u.value;
  tr.querySelector(".version").textContent = u.version;
  const c = tr.querySelector(".changed");
  c.dataset.at = u.at || "";
  c.textContent = u.at ? ago(Date.now() - u.at) + " ago" : "";
  c.title = u.at ? clock(u.at) : "before this page opened";
  tr.classList.toggle("gone", !!u.deleted);
}

// flash highlights a changed row. Switching between two animations of
// the same look restarts it without forcing a layout, which a batch of
// hundreds of rows cannot afford.
function flash(tr) {
  const odd = tr.classList.contains("fa");
  tr.classList.toggle("fa", !odd);
  tr.classList.toggle("fb", odd);
  tr.classList.add("flash");
}

// maxFlashes bounds the rows highlighted per batch: under a flood of
// changes the values still change, without hundreds of animations.
const maxFlashes = 50;

function showListing(l) {
  const body = $("vars").tBodies[0];
  state.vars.clear();
  const rows = l.vars.map((u) => {
    const tr = varRow(u);
    fillRow(tr, u);
    state.vars.set(u.name, { row: tr, data: u });
    return tr;
  });
  body.replaceChildren(...rows);
  countVars(l.matched);
}

function countVars(matched) {
  const shown = state.vars.size;
  const m = matched ?? shown;
  $("vars-count").textContent = m > shown ? `(${shown} of ${m} shown)` : `(${shown})`;
}

function applyChanges(ups) {
  const body = $("vars").tBodies[0];
  let flashes = 0;
  for (const u of ups) {
    let v = state.vars.get(u.name);
    if (!v) {
      if (u.deleted) continue;
      if (state.vars.size >= state.limit) continue;
      const tr = varRow(u);
      v = { row: tr, data: u };
      state.vars.set(u.name, v);
      // keep name order
      let before = null;
      for (const r of body.rows) { if (r.dataset.name > u.name) { before = r; break; } }
      body.insertBefore(tr, before);
    }
    v.data = u;
    fillRow(v.row, u);
    if (flashes++ < maxFlashes) flash(v.row);
  }
  countVars();
}

// --- server figures ----------------------------------------------------

function showStats(s) {
  const o = s.server;
  $("server").textContent = `dsmd ${o.Version} on ${o.Addr || "?"} · sync ${o.Sync} · up ${ago(s.uptime_ms)}`;
  $("file").textContent = o.File;
  const fill = o.Capacity ? s.vars / o.Capacity : 0;
  $("fill").value = fill;
  $("fill-text").textContent = `${s.vars.toLocaleString()} of ${o.Capacity.toLocaleString()} variables (${(fill * 100).toFixed(1)}%), ${(o.FileSize / 1048576).toFixed(1)} MiB`;
  $("procs").textContent = `${o.Procs} process${o.Procs === 1 ? "" : "es"} attached to the file (the daemon included)`;
  showClients(s.clients);
  showLocks(s.locks);
  showChart(s.ops, s.changes);
  showCluster(s.cluster);
}

function cells(tr, ...vals) {
  for (const v of vals) {
    const td = typeof v === "object" ? v : el("td", { textContent: v });
    tr.append(td);
  }
  return tr;
}

function showClients(cs) {
  $("clients-count").textContent = `(${cs.length})`;
  $("clients").tBodies[0].replaceChildren(...cs.map((c) => {
    const who = c.name ? `${c.addr} (${c.name})` : c.addr;
    const proto = (c.local ? "local " : "") + (c.proto || "—") + (c.subs ? ", subscribed" : "") + (c.locks ? `, ${c.locks} locked` : "");
    return cells(el("tr"), el("td", { className: "num", textContent: c.id }), who, proto,
      el("td", { className: "num", textContent: c.commands.toLocaleString() }), c.last_cmd || "—",
      ago(c.idle_ms), ago(c.age_ms));
  }));
}

function showLocks(ls) {
  const held = ls.filter((l) => !l.waiting).length;
  $("locks-count").textContent = `(${held} holding, ${ls.length - held} waiting)`;
  $("locks").tBodies[0].replaceChildren(...ls.map((l) => {
    const tr = cells(el("tr"), `${l.client} ${l.addr}`, l.waiting ? "waiting" : "holding", l.mode,
      l.names.join(" "), ago(l.for_ms), (l.waiting ? "wait " : "lease ") + ago(l.left_ms));
    tr.dataset.client = l.client;
    return tr;
  }));
}

function showChart(ops, changes) {
  const svg = $("chart");
  const n = 60;
  const top = Math.max(1, ...ops, ...changes);
  const line = (vals, cls) => {
    const pts = vals.map((v, i) => `${((n - vals.length + i) * 300) / (n - 1)},${78 - (v / top) * 74}`).join(" ");
    const p = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    p.setAttribute("points", pts);
    p.setAttribute("class", cls);
    return p;
  };
  svg.replaceChildren(line(ops, "ops"), line(changes, "changes"));
  const last = (a) => (a.length ? Math.round(a[a.length - 1]) : 0).toLocaleString();
  $("ops-now").textContent = last(ops);
  $("changes-now").textContent = last(changes);
  svg.setAttribute("aria-label", `commands per second ${last(ops)}, changes seen per second ${last(changes)}; the most in the last minute ${Math.round(top).toLocaleString()}`);
}

function showCluster(c) {
  $("cluster-section").hidden = !c;
  if (!c) return;
  $("cluster-summary").textContent = `(this node ${c.node}, ${c.role}, term ${c.term}, leader ${c.leader || "none"})`;
  $("cluster").tBodies[0].replaceChildren(...c.members.map((m) => cells(el("tr"),
    m.id + (m.id === c.node ? " (this node)" : ""), m.addr || "—", m.role,
    el("td", { className: "num", textContent: m.applied }),
    el("td", { className: "num", textContent: m.lag < 0 ? "no answer" : m.lag }))));
}

// --- the stream ----------------------------------------------------------

function connect() {
  clearTimeout(state.retry);
  if (state.es) state.es.close();
  const es = new EventSource("/events?match=" + encodeURIComponent(state.match));
  state.es = es;
  es.addEventListener("hello", (e) => {
    const h = JSON.parse(e.data);
    state.write = h.write;
    state.limit = h.limit;
    $("setform").hidden = !h.write;
    $("logout").hidden = !h.login;
    if (state.gone) setStatus("live", `dsmd is back (gone ${clock(state.gone)}, back ${clock(Date.now())}).`);
    else setStatus("live", "Live: connected to dsmd.");
    state.gone = null;
    state.everLive = true;
  });
  es.addEventListener("vars", (e) => showListing(JSON.parse(e.data)));
  es.addEventListener("changes", (e) => applyChanges(JSON.parse(e.data)));
  es.addEventListener("stats", (e) => showStats(JSON.parse(e.data)));
  es.addEventListener("problem", (e) => setStatus("gone", "dsmd reports a problem: " + JSON.parse(e.data)));
  es.onerror = () => {
    es.close();
    if (state.es !== es) return;
    if (!state.gone) state.gone = Date.now();
    setStatus("gone", `dsmd is gone (since ${clock(state.gone)}): nothing on this page changes until it is back. Trying again every second…`);
    state.retry = setTimeout(probe, 1000);
  };
}

// probe asks whether dsmd answers again: a login the new dsmd does not know
// reloads the page, which then asks for the password.
async function probe() {
  try {
    const r = await fetch("/api/ping", { cache: "no-store" });
    if (r.status === 401) { location.reload(); return; }
    if (r.ok) { connect(); return; }
  } catch (_) { /* still gone */ }
  state.retry = setTimeout(probe, 1000);
}

function tick() {
  const now = Date.now();
  for (const c of document.querySelectorAll("#vars td.changed")) {
    if (c.dataset.at) c.textContent = ago(now - Number(c.dataset.at)) + " ago";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  state.match = new URLSearchParams(location.search).get("match") || "";
  $("match").value = state.match;
  $("filter").addEventListener("submit", (e) => {
    e.preventDefault();
    state.match = $("match").value.trim();
    const u = new URL(location.href);
    if (state.match) u.searchParams.set("match", state.match); else u.searchParams.delete("match");
    history.replaceState(null, "", u);
    connect();
  });
  $("setform").addEventListener("submit", async (e) => {
    e.preventDefault();
    const out = $("set-result");
    out.textContent = "…";
    try {
      const r = await fetch("/api/set", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ name: $("set-name").value, value: $("set-value").value }),
      });
      out.textContent = (r.ok ? "" : "refused: ") + (await r.text()).trim();
    } catch (err) {
      out.textContent = "dsmd did not answer";
    }
  });
  setInterval(tick, 1000);
  connect();
});
