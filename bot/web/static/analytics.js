// The analytics page: log in, pick a period, charts (Chart.js) beside tables, CSV per table.
// Everything from the server is set as text (textContent), never as HTML: the inbox's examples are
// what customers typed.
"use strict";

const $ = (sel) => document.querySelector(sel);
let csrf = null;
const charts = {};
// Series tell apart by pattern and marker, not colour alone (dark enough on white for contrast).
const SERIES = [
  { color: "#1f4e9c", pattern: "diagonal", point: "circle", dash: [] },
  { color: "#9c4a00", pattern: "dots", point: "rect", dash: [6, 4] },
  { color: "#2e6b2e", pattern: "cross", point: "triangle", dash: [2, 3] },
  { color: "#7a1f6b", pattern: "horizontal", point: "rectRot", dash: [10, 3, 2, 3] },
];

const api = staffApi("/analytics/api", () => csrf);  // staff.js
const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body || {}) });

function pattern(kind, color) {
  const c = document.createElement("canvas");
  c.width = c.height = 10;
  const g = c.getContext("2d");
  g.fillStyle = "#fff"; g.fillRect(0, 0, 10, 10);
  g.strokeStyle = color; g.fillStyle = color; g.lineWidth = 2;
  if (kind === "diagonal") { g.beginPath(); g.moveTo(0, 10); g.lineTo(10, 0); g.moveTo(-2, 2); g.lineTo(2, -2); g.moveTo(8, 12); g.lineTo(12, 8); g.stroke(); }
  else if (kind === "dots") { g.beginPath(); g.arc(5, 5, 2.2, 0, 2 * Math.PI); g.fill(); }
  else if (kind === "cross") { g.beginPath(); g.moveTo(0, 5); g.lineTo(10, 5); g.moveTo(5, 0); g.lineTo(5, 10); g.stroke(); }
  else { g.fillRect(0, 0, 10, 4); }
  return g.createPattern(c, "repeat");
}

function iso(d) { return d.toISOString().slice(0, 10); }
function setDays(n) {
  const until = new Date(), since = new Date();
  since.setDate(until.getDate() - (n - 1));
  $("#period").since.value = iso(since); $("#period").until.value = iso(until);
}

function showLogin() {
  $("#login").hidden = false; $("#report").hidden = true; $("#logout").hidden = true; $("#whoami").textContent = "";
  $("#login input[name=name]").focus();
}
function showReport(who) {
  csrf = who.csrf;
  $("#whoami").textContent = `Logged in as ${who.agent} (${who.role})`;
  $("#login").hidden = true; $("#report").hidden = false; $("#logout").hidden = false;
  load();
}

function cell(value) { return value === null || value === undefined ? "–" : String(value); }

function renderTable(t, query, definitions) {
  const section = document.createElement("section");
  section.id = "table-" + t.name;
  section.setAttribute("aria-labelledby", "h-" + t.name);
  const head = document.createElement("div"); head.className = "table-head";
  const h = document.createElement("h2"); h.id = "h-" + t.name; h.textContent = t.title;
  const link = document.createElement("a");
  link.href = `/analytics/api/csv/${encodeURIComponent(t.name)}?${query}`;
  link.textContent = `Download "${t.title}" as CSV`; link.className = "csv"; link.setAttribute("download", "");
  head.append(h, link);
  const p = document.createElement("p"); p.className = "definition"; p.textContent = definitions[t.definition] || "";
  const wrap = document.createElement("div"); wrap.className = "scroll"; wrap.tabIndex = 0;
  wrap.setAttribute("role", "region"); wrap.setAttribute("aria-label", t.title + " (scrolls sideways)");
  const table = document.createElement("table");
  const cap = document.createElement("caption"); cap.className = "sr-only-caption"; cap.textContent = t.title;
  const thead = document.createElement("thead"), tr = document.createElement("tr");
  for (const c of t.columns) { const th = document.createElement("th"); th.scope = "col"; th.textContent = c; tr.append(th); }
  thead.append(tr);
  const tbody = document.createElement("tbody");
  for (const row of t.rows) {
    const r = document.createElement("tr");
    if (row[0] === "all") r.className = "total";
    row.forEach((v, i) => {
      const td = document.createElement("td");
      if (t.columns[i] === "inbox" && v) {
        const a = document.createElement("a"); a.href = v; a.textContent = "open in the inbox"; td.append(a);
      } else { td.textContent = cell(v); }
      if (typeof v === "number") td.className = "num";
      r.append(td);
    });
    tbody.append(r);
  }
  if (!t.rows.length) {
    const r = document.createElement("tr"), td = document.createElement("td");
    td.colSpan = t.columns.length; td.textContent = "Nothing in this period."; r.append(td); tbody.append(r);
  }
  table.append(cap, thead, tbody); wrap.append(table);
  section.append(head, p, wrap);
  return section;
}

function columnOf(t, name) { const i = t.columns.indexOf(name); return t.rows.filter((r) => r[0] !== "all").map((r) => r[i]); }

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  if (!window.Chart) return;
  config.options = { responsive: true, maintainAspectRatio: false, animation: false,
    plugins: { legend: { labels: { usePointStyle: true } } }, ...config.options };
  charts[id] = new window.Chart(document.getElementById(id), config);
}

function bars(labels, names, columns, stacked, extra = {}) {
  return { type: "bar", data: { labels, datasets: names.map((name, i) => ({
      label: name, data: columns[i], backgroundColor: pattern(SERIES[i].pattern, SERIES[i].color),
      borderColor: SERIES[i].color, borderWidth: 1.5, pointStyle: SERIES[i].point })) },
    options: { scales: { x: { stacked }, y: { stacked, beginAtZero: true, ...extra } } } };
}

function renderCharts(byName) {
  const days = byName.days, reasons = byName.reasons;
  const labels = columnOf(days, "day");
  const conv = bars(labels, ["conversations", "contained"], [columnOf(days, "conversations"), columnOf(days, "contained")], false);
  chart("chart-conversations", conv);
  chart("chart-faq", bars(labels, ["answered %", "clarified %", "missed %"],
    ["answered %", "clarified %", "missed %"].map((c) => columnOf(days, c)), true, { max: 100 }));
  const names = reasons.columns.slice(1, -1);
  chart("chart-reasons", bars(columnOf(reasons, "day"), names, names.map((c) => columnOf(reasons, c)), true));
  const times = ["first reply median s", "handling median s"];
  chart("chart-times", { type: "line", data: { labels, datasets: times.map((c, i) => ({
      label: c, data: columnOf(days, c), borderColor: SERIES[i].color, backgroundColor: SERIES[i].color,
      borderDash: SERIES[i].dash, pointStyle: SERIES[i].point, pointRadius: 5, spanGaps: true })) },
    options: { scales: { y: { beginAtZero: true } } } });
}

async function load() {
  const f = $("#period");
  const query = new URLSearchParams({ since: f.since.value, until: f.until.value }).toString();
  $("#report-error").textContent = "";
  $("#status").textContent = "Loading…";
  let report;
  try { report = await api("/report?" + query); }
  catch (err) {
    if (err.status === 401) return showLogin();
    $("#status").textContent = ""; $("#report-error").textContent = err.message; return;
  }
  const byName = Object.fromEntries(report.tables.map((t) => [t.name, t]));
  const tables = $("#tables"); tables.replaceChildren();
  for (const t of report.tables) tables.append(renderTable(t, query, report.definitions));
  renderCharts(byName);
  const dl = $("#definitions"); dl.replaceChildren();
  for (const [key, text] of Object.entries(report.definitions)) {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = key.replace(/_/g, " "); dd.textContent = text; dl.append(dt, dd);
  }
  const p = report.period, fresh = report.freshness;
  let status = `${p.since} to ${p.until} (${p.timezone} days), computed in ${report.seconds} s.`;
  if (fresh.behind) {
    status += ` The summary is still reading ${fresh.behind} newer events; figures will complete on reload.`;
    setTimeout(load, 2000);
  }
  if (report.groups_error) status += " " + report.groups_error;
  $("#status").textContent = status;
  history.replaceState(null, "", "#" + query);
}

document.addEventListener("DOMContentLoaded", async () => {
  const fromHash = new URLSearchParams(location.hash.slice(1));
  if (fromHash.get("since") && fromHash.get("until")) {
    $("#period").since.value = fromHash.get("since"); $("#period").until.value = fromHash.get("until");
  } else { setDays(7); }
  wireLogin((credentials) => post("/login", credentials), showReport);
  $("#logout").addEventListener("click", async () => { await post("/logout").catch(() => {}); csrf = null; showLogin(); });
  $("#period").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  for (const b of document.querySelectorAll(".quick button")) {
    b.addEventListener("click", () => { setDays(Number(b.dataset.days)); load(); });
  }
  try { showReport(await api("/me")); } catch (err) { showLogin(); }
});
