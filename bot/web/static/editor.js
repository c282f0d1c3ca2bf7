// FAQ editor. Everything from the FAQ files and from customers is inserted with textContent; only the
// answer preview is HTML, rendered by markdown.js exactly as the chat widget renders answers
// (marked, then DOMPurify).
"use strict";

const $ = (sel) => document.querySelector(sel);
const DRAFT_KEY = "supportbot-editor-draft:";
let csrf = null;
let me = null;
let canPublish = false;
let entries = [];
let original = null;      // the entry as opened (null: a new one)
let overBase = null;      // after a conflict: publish on top of their revision
let selectedVersion = null;
let validateTimer = null;
let pendingGroup = null;  // the inbox group the open edit answers: {question_ids, action}

const api = staffApi("/editor/api", () => csrf);  // staff.js, as el()

const post = (path, body) => api(path, { method: "POST", body: JSON.stringify(body || {}) });


function renderMarkdown(text) {
  return window.SupportbotMarkdown.render(text);  // sanitised by DOMPurify
}

// -- log in ------------------------------------------------------------------------------------

function showLogin() {
  me = null;
  $("#login").hidden = false;
  for (const id of ["#entries-view", "#history-view", "#csv-view", "#inbox-view", "#canned-view", "#logout", "#tabs"]) $(id).hidden = true;
  $("#whoami").textContent = "";
}

async function showApp(who) {
  me = who.agent; csrf = who.csrf; canPublish = who.role === "editor" || who.role === "admin";
  $("#login").hidden = true; $("#logout").hidden = false; $("#tabs").hidden = false;
  $("#whoami").textContent = `Logged in as ${who.agent} (${who.role})`;
  $("#readonly-banner").hidden = canPublish;
  for (const id of ["#publish", "#delete"]) $(id).hidden = !canPublish;
  showTab("entries");
  await loadEntries();
  refreshStatus();
}

// -- entries -----------------------------------------------------------------------------------

async function loadEntries() {
  const data = await api("/entries");
  entries = data.entries;
  const files = $("#files");
  files.replaceChildren(...data.files.map((f) => Object.assign(document.createElement("option"), { value: f })));
  renderList();
}

function matches(e, words) {
  const hay = [e.id, e.question, e.answer, e.file, ...e.alternates, ...e.tags].join("\n").toLowerCase();
  return words.every((w) => hay.includes(w));
}

function renderList() {
  const words = $("#search").value.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = entries.filter((e) => matches(e, words));
  const body = $("#entries tbody");
  body.replaceChildren();
  for (const e of shown) {
    const f = e.figures || {};
    const tr = el("tr");
    tr.dataset.id = e.id;
    tr.tabIndex = 0;
    if (original && original.id === e.id) tr.className = "selected";
    const first = el("td", e.question);
    first.append(el("small", `${e.id} · ${e.file}` + (e.tags.length ? " · " + e.tags.join(", ") : "")));
    tr.append(first, el("td", f.answered || 0), el("td", f.clarify_offers || 0),
              el("td", `${f.helpful || 0} / ${f.not_helpful || 0}`), el("td", f.misses_near || 0));
    tr.addEventListener("click", () => openEntry(e));
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") openEntry(e); });
    body.append(tr);
  }
  $("#count").textContent = `(${shown.length} of ${entries.length})`;
}

function formEntry() {
  const f = $("#entry-form").elements;
  const lines = (s) => s.split("\n").map((x) => x.trim()).filter(Boolean);
  return { id: f.id.value.trim(), question: f.question.value.trim(), alternates: lines(f.alternates.value),
           answer: f.answer.value.trim(), tags: f.tags.value.split(",").map((x) => x.trim()).filter(Boolean),
           file: f.file.value.trim(), thresholds: original ? original.thresholds : {} };
}

function fillForm(e) {
  const f = $("#entry-form").elements;
  f.id.value = e.id || ""; f.question.value = e.question || ""; f.alternates.value = (e.alternates || []).join("\n");
  f.answer.value = e.answer || ""; f.tags.value = (e.tags || []).join(", "); f.file.value = e.file || "";
  f.id.readOnly = Boolean(original);
  preview();
}

function currentChange() {
  const entry = formEntry();
  return { op: "save", id: entry.id, entry, base: overBase || (original ? original.revision : null) };
}

function dirty() {
  const now = formEntry();
  if (!original) return Boolean(now.id || now.question || now.answer);
  return ["question", "answer", "file"].some((k) => now[k] !== original[k]) ||
    JSON.stringify(now.alternates) !== JSON.stringify(original.alternates) ||
    JSON.stringify(now.tags) !== JSON.stringify(original.tags);
}

function draftKey() { return DRAFT_KEY + (original ? original.id : "(new)"); }

function openEntry(e, group) {
  original = e; overBase = null; pendingGroup = group || null;
  $("#from-inbox").hidden = !pendingGroup;
  $("#from-inbox").textContent = pendingGroup
    ? `From the inbox: publishing this answers ${pendingGroup.question_ids.length} question(s); they leave the inbox.` : "";
  $("#edit-panel").hidden = false;
  $("#edit-title").textContent = e ? "Edit " + e.id : "New entry";
  $("#delete").hidden = !e || !canPublish;
  $("#conflict").hidden = true; $("#edit-error").textContent = ""; $("#issues").replaceChildren();
  $("#try-result").replaceChildren(); $("#regression-result").replaceChildren();
  $("#entry-form").elements.message.value = "";
  const saved = localStorage.getItem(draftKey());
  const restored = saved ? JSON.parse(saved) : null;
  const fromDisk = restored && e && restored.base !== e.revision;
  fillForm(restored ? restored.entry : (e || { file: "" }));
  $("#restored").hidden = !restored;
  $("#restored").textContent = restored
    ? "Your unpublished edit of this entry was restored." +
      (fromDisk ? " The entry has changed since you wrote it: publishing will show you both versions." : "")
    : "";
  renderList();
  if (restored) scheduleValidate();
}

function remember() {
  if (dirty()) localStorage.setItem(draftKey(), JSON.stringify({ entry: formEntry(), base: original ? original.revision : null }));
  else localStorage.removeItem(draftKey());
}

function preview() {
  $("#preview").innerHTML = renderMarkdown($("#entry-form").elements.answer.value);
}

function scheduleValidate() {
  clearTimeout(validateTimer);
  validateTimer = setTimeout(validate, 400);
}

function showIssues(issues) {
  const list = $("#issues");
  list.replaceChildren(...issues.map((i) => el("li", `${i.level}: ${i.message}`, "issue-" + i.level)));
}

async function validate() {
  const change = currentChange();
  if (!change.id || !change.entry.question || !change.entry.answer) {
    showIssues([{ level: "error", message: "an entry needs an id, a question and an answer" }]);
    return;
  }
  try {
    const data = await post("/validate", { changes: [change] });
    showIssues([...data.issues, ...data.conflicts.map((c) => ({ level: "warning", message: c.message + " (publishing will show both)" }))]);
  } catch (err) {
    showIssues([{ level: "error", message: err.message }]);
  }
}

function showConflict(conflict) {
  const box = $("#conflict");
  box.replaceChildren(el("strong", conflict.message + (conflict.by ? ` by ${conflict.by}` : "") +
                                   (conflict.at ? ` at ${new Date(conflict.at).toLocaleString()}` : "") + "."));
  if (conflict.theirs) {
    const theirs = el("dl");
    for (const key of ["question", "alternates", "answer", "tags"]) {
      const value = Array.isArray(conflict.theirs[key]) ? conflict.theirs[key].join(" | ") : conflict.theirs[key];
      const mine = formEntry()[key];
      const same = JSON.stringify(conflict.theirs[key]) === JSON.stringify(mine);
      theirs.append(el("dt", key + (same ? "" : " (differs from yours)")), el("dd", value));
    }
    box.append(el("p", "Their version:"), theirs);
    const take = el("button", "Take theirs (drop my edit)");
    take.type = "button";
    take.addEventListener("click", () => { localStorage.removeItem(draftKey()); openEntry(conflict.theirs); });
    const keep = el("button", "Publish mine over theirs");
    keep.type = "button";
    keep.addEventListener("click", () => { overBase = conflict.theirs.revision; box.hidden = true; publish(); });
    box.append(take, keep);
  } else {
    const gone = el("button", "Publish mine as a new entry");
    gone.type = "button";
    gone.addEventListener("click", () => { original = null; overBase = null; box.hidden = true; publish(); });
    box.append(gone);
  }
  box.hidden = false;
}

async function publishChanges(changes, message, group) {
  $("#edit-error").textContent = "";
  try {
    const data = await post("/publish", { changes, message, ...(group ? { inbox: group } : {}) });
    if (data.inbox_error) $("#edit-error").textContent = "Published, but the inbox group stays: " + data.inbox_error;
    showBuild(data.version);
    return data.version;
  } catch (err) {
    if (err.status === 409 && err.body.conflicts) showConflict(err.body.conflicts[0]);
    else if (err.status === 422 && err.body.issues) showIssues(err.body.issues);
    $("#edit-error").textContent = err.message;
    return null;
  }
}

async function publish() {
  const change = currentChange();
  const version = await publishChanges([change], $("#entry-form").elements.message.value, pendingGroup);
  if (!version) return;
  pendingGroup = null;
  localStorage.removeItem(draftKey());
  await loadEntries();
  const now = entries.find((e) => e.id === change.id);
  if (now) openEntry(now);
}

async function remove() {
  if (!original) return;
  if (!window.confirm(`Delete the entry "${original.question}" (${original.id})? Customers will no longer get its answer.`)) return;
  const version = await publishChanges([{ op: "delete", id: original.id, base: original.revision }],
                                       $("#entry-form").elements.message.value);
  if (!version) return;
  localStorage.removeItem(draftKey());
  original = null;
  $("#edit-panel").hidden = true;
  await loadEntries();
}

// -- try it ------------------------------------------------------------------------------------

function decisionBox(title, d) {
  const box = el("div", null, "decision");
  box.append(el("h4", title));
  const what = d.decision === "answer" ? `answers with ${d.entry_id}` :
    d.decision === "clarify" ? `asks "did you mean…" ${d.options.join(", ")}` : "does not know (a miss)";
  box.append(el("p", what, "kind-" + d.decision));
  const t = d.thresholds;
  box.append(el("p", `thresholds: answer ≥ ${t.answer.toFixed(3)} leading by ≥ ${t.margin.toFixed(3)}, ` +
                     `clarify ≥ ${t.clarify.toFixed(3)} (${t.source})`));
  const top = el("ol");
  for (const h of d.hits.slice(0, 5)) top.append(el("li", `${h.entry_id}: ${h.score.toFixed(3)} (“${h.phrasing}”)`));
  box.append(top);
  return box;
}

function draftChanges() { return dirty() || overBase ? [currentChange()] : []; }

async function tryQuestion(ev) {
  ev.preventDefault();
  const question = $("#try-form").elements.question.value;
  const out = $("#try-result");
  out.replaceChildren(el("p", "Asking…"));
  try {
    const data = await post("/try", { question, changes: draftChanges() });
    out.replaceChildren(decisionBox("The live bot", data.live), decisionBox("With your draft", data.draft));
  } catch (err) {
    out.replaceChildren(el("p", err.message, "error"));
  }
}

async function regression() {
  const out = $("#regression-result");
  out.replaceChildren(el("p", "Asking the draft every recent question and eval query…"));
  try {
    const data = await post("/regression", { changes: draftChanges() });
    const head = el("p", `${data.changed.length} of ${data.asked} questions (${data.recent} recent, ${data.eval} from eval/) would be answered differently.`);
    const table = el("table");
    table.append(el("caption", "Questions the draft answers differently", "sr-only"));
    const hr = el("tr");
    for (const h of ["Question", "Live", "Draft", "Expected"]) { const th = el("th", h); th.scope = "col"; hr.append(th); }
    table.append(hr);
    const say = (d) => d.decision === "answer" ? d.entry_id : d.decision === "clarify" ? "clarify: " + d.options.join(", ") : "miss";
    for (const c of data.changed) {
      const tr = el("tr");
      tr.append(el("td", c.question), el("td", say(c.live)), el("td", say(c.draft)), el("td", c.expected || "—"));
      table.append(tr);
    }
    out.replaceChildren(head, table);
  } catch (err) {
    out.replaceChildren(el("p", err.message, "error"));
  }
}

// -- build progress and changes on disk -------------------------------------------------------

let shownVersion = 0;

function showBuild(v) {
  if (v.id < shownVersion) return;  // a late answer about an older version
  shownVersion = v.id;
  const b = v.build;
  const banner = $("#build-banner");
  const took = b.seconds ? ` after ${b.seconds.toFixed(2)} s` : "";
  const words = { queued: "waiting to be built", building: "being built", serving: "now serving" + took,
                  failed: "failed to build", superseded: "built together with a newer version",
                  unbuilt: "recorded; the next publish builds it" };
  banner.textContent = `Version ${v.id} (${v.message}, by ${v.author}): ${words[b.state] || b.state}` +
    (b.detail ? ` — ${b.detail}` : "");
  banner.className = "banner" + (b.state === "failed" ? " warn" : "");
  banner.dataset.state = b.state;
  banner.dataset.version = v.id;
  banner.hidden = false;
}

async function refreshStatus() {
  if (!me) return;
  try {
    const s = await api("/status");
    if (s.latest) showBuild(s.latest);
    const disk = $("#disk-banner");
    if (s.changed_on_disk) {
      disk.textContent = `The FAQ files were ${s.changed_on_disk.message} (${new Date(s.changed_on_disk.at).toLocaleString()}). ` +
        "The list shows what is on disk now; your open edit is checked against it when you publish.";
      disk.hidden = false;
      loadEntries();
    }
    if (s.errors.length) {
      disk.textContent = "The FAQ files have errors: " + s.errors.map((i) => `${i.file}:${i.line || ""} ${i.message}`).join("; ");
      disk.hidden = false;
    }
  } catch (err) {
    if (err.status === 401) showLogin();
  }
}

// -- history -----------------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-pressed", String(b.dataset.tab === name));
  $("#entries-view").hidden = name !== "entries";
  $("#history-view").hidden = name !== "history";
  $("#csv-view").hidden = name !== "csv";
  $("#inbox-view").hidden = name !== "inbox";
  $("#canned-view").hidden = name !== "canned";
  if (name === "inbox") loadInbox();
  if (name === "canned") loadCanned();  // editor_canned.js
  if (name === "history") loadHistory();
}

async function loadHistory() {
  loadCalibration();
  const data = await api("/versions");
  const body = $("#versions tbody");
  body.replaceChildren();
  for (const v of data.versions) {
    const tr = el("tr");
    tr.tabIndex = 0;
    tr.dataset.id = v.id;
    tr.append(el("td", v.id), el("td", new Date(v.at).toLocaleString()), el("td", v.author), el("td", v.message),
              el("td", v.build.state), el("td", v.touched.length + " entries"));
    tr.addEventListener("click", () => openVersion(v.id));
    tr.addEventListener("keydown", (ev) => { if (ev.key === "Enter") openVersion(v.id); });
    body.append(tr);
  }
}

function fieldText(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value)) return value.join("\n");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

async function openVersion(id) {
  const data = await api("/versions/" + id);
  selectedVersion = id;
  $("#version-detail").hidden = false;
  $("#version-title").textContent = `Version ${id}: ${data.version.message} (${data.version.author})`;
  const out = $("#version-changes");
  out.replaceChildren();
  for (const change of data.changes) {
    const box = el("div", null, "decision");
    box.append(el("h4", `${change.kind}: ${change.id}`));
    for (const [field, ba] of Object.entries(change.fields)) {
      box.append(el("strong", field));
      if (ba.before !== null) box.append(el("del", fieldText(ba.before)));
      if (ba.after !== null) box.append(el("ins", fieldText(ba.after)));
    }
    out.append(box);
  }
  if (!data.changes.length) out.append(el("p", "No entry changed."));
  $("#rollback").hidden = !canPublish;
}

async function rollback() {
  if (!window.confirm(`Make the FAQ what it was at version ${selectedVersion}? This publishes a new version.`)) return;
  try {
    const data = await post(`/versions/${selectedVersion}/rollback`);
    showBuild(data.version);
    $("#history-error").textContent = "";
    await loadHistory();
    await loadEntries();
  } catch (err) {
    $("#history-error").textContent = err.message;
  }
}

// -- calibration -------------------------------------------------------------------------------

const num = (v) => (v === null || v === undefined ? "n/a" : Number(v).toFixed(3));
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "n/a");

function calibrationRow(name, promised, part, error) {
  const m = (part && part.measured) || {};
  const tr = el("tr");
  tr.append(el("th", name), el("td", num(promised)), el("td", num(part && part.estimated_precision)),
            el("td", num(m.precision)), el("td", num(error)), el("td", num(m.in_scope_accuracy)),
            el("td", num(m.oos_answered)));
  tr.firstChild.scope = "row";
  return tr;
}

function define(list, term, value) {
  list.append(el("dt", term), el("dd", value));
}

async function loadCalibration() {
  try {
    const data = await api("/calibration");
    const s = data.serving;
    const body = $("#calibration-error tbody");
    const labels = $("#calibration-labels");
    body.replaceChildren(); labels.replaceChildren();
    if (!s) { $("#calibration-summary").textContent = data.error || "No index serves yet."; return; }
    const t = s.thresholds;
    const traffic = s.traffic;
    $("#calibration-summary").textContent = `Index ${s.index_version}, calibrated ${when(s.calibrated_at)}: ` +
      `answer ${t.answer}, margin ${t.margin}, clarify ${t.clarify}; ${t.source}.` +
      (traffic ? "" : " Not calibrated from labelled real questions yet: the thresholds rest on the FAQ alone.");
    if (traffic) {
      body.append(calibrationRow("the FAQ alone (corpus-only)", traffic.promised, traffic.corpus_only,
                                 traffic.calibration_error.corpus_only),
                  calibrationRow("labelled real questions", traffic.promised, traffic.from_traffic,
                                 traffic.calibration_error.from_traffic));
    } else {
      const tr = el("tr");
      tr.append(el("th", "the FAQ alone (corpus-only)"), el("td", num(s.target_precision)),
                el("td", num(s.estimated_precision)), el("td", "not measured"), el("td", "n/a"),
                el("td", num(s.estimated_in_scope_accuracy)), el("td", num(s.estimated_oos_answered)));
      tr.firstChild.scope = "row";
      body.append(tr);
    }
    const used = traffic ? traffic.labels : null;
    if (used) {
      define(labels, "Used", `${used.usable} questions: ${used.in_scope} in scope, ${used.out_of_scope} out of scope, ` +
             `${used.not_entry} answers voted not helpful` + (traffic.combined_with_corpus
               ? `, with the FAQ's ${traffic.corpus_samples} samples (each question counted ${traffic.weight}×)` : ", alone"));
      define(labels, "By source", Object.entries(used.usable_by_source || {}).map(([k, n]) => `${k.replace(/_/g, " ")}: ${n}`).join(", ") || "none");
      if (used.period && used.period.from) define(labels, "Labelled", `${when(used.period.from)} to ${when(used.period.to)}`);
      const left = Object.entries(used.left_out || {}).map(([k, n]) => `${n} ${k.replace(/_/g, " ")}`);
      if (used.conflicts) left.push(`${used.conflicts} labelled two ways`);
      if (left.length) define(labels, "Left out", left.join(", "));
      define(labels, "Held out", `${traffic.folds}-fold cross-validation over the labelled questions`);
    }
    const now = data.labels_now;
    define(labels, "There now", `${now.questions} labelled questions (${now.in_scope} in scope, ${now.out_of_scope} ` +
           `out of scope, ${now.not_entry} voted not helpful); at least ${now.min_labels} usable ones are needed, ` +
           (now.recalibrate_after ? `recalibrated after every publish and every ${now.recalibrate_after} new ones`
             : "recalibrated after every publish"));
    for (const c of (now.conflict_examples || []).slice(0, 5)) define(labels, "Labelled two ways", `${c.question}: ${c.labels.join(", ")}`);
    const hist = $("#calibration-history tbody");
    hist.replaceChildren();
    for (const h of data.history) {
      const tr = el("tr");
      tr.append(el("td", when(h.at)), el("td", h.index_version), el("td", h.traffic.labels.usable),
                el("td", num(h.measured && h.measured.precision)),
                el("td", num(h.corpus_only_measured && h.corpus_only_measured.precision)));
      hist.append(tr);
    }
    if (!data.history.length) {
      const tr = el("tr");
      const td = el("td", "none yet");
      td.colSpan = 5;
      tr.append(td);
      hist.append(tr);
    }
    $("#calibration-error-text").textContent = "";
  } catch (err) {
    $("#calibration-error-text").textContent = err.message;
  }
}

// -- inbox -----------------------------------------------------------------------------------

async function loadInbox() {
  const list = $("#groups");
  list.replaceChildren(el("li", "Grouping the questions…"));
  try {
    const data = await api("/inbox");
    const handled = Object.entries(data.handled).map(([k, n]) => `${n} ${k.replace("_", " ")}`).join(", ");
    $("#inbox-counts").textContent = `(${data.open} open${handled ? "; handled: " + handled : ""})`;
    list.replaceChildren(...data.groups.map(groupItem));
    $("#inbox-empty").hidden = data.groups.length > 0;
  } catch (err) {
    list.replaceChildren();
    $("#inbox-error").textContent = err.message;
  }
}

function groupItem(g) {
  const li = el("li");
  const kinds = Object.entries(g.kinds).map(([k, n]) => `${n} ${k.replace(/_/g, " ")}`).join(", ");
  li.append(el("h3", `“${g.examples[0]}”`),
            el("p", `${g.count} question(s) from ${g.customers} customer(s) · ${kinds} · first ${new Date(g.first_seen).toLocaleString()}, last ${new Date(g.last_seen).toLocaleString()}`));
  const examples = el("ul", null, "examples");
  for (const x of g.examples) examples.append(el("li", x));
  li.append(examples);
  for (const p of g.proposed) li.append(el("p", `${p.by} answered: ${p.answer}`));
  const near = el("p", "Nearest entries: " + (g.nearest.map((n) => `${n.id} (${n.score.toFixed(2)})`).join(", ") || "none"));
  li.append(near);
  const row = el("div", null, "row actions");
  if (canPublish) {
    for (const n of g.nearest.slice(0, 2)) {
      const add = el("button", `Add as alternates of ${n.id}`);
      add.type = "button";
      add.addEventListener("click", () => {
        const e = entries.find((x) => x.id === n.id);
        if (!e) return;
        showTab("entries");
        openEntry(e, { question_ids: g.question_ids, action: "alternates" });
        const alts = $("#entry-form").elements.alternates;
        const have = new Set([e.question, ...e.alternates].map((x) => x.toLowerCase()));
        alts.value = [...e.alternates, ...g.examples.filter((x) => !have.has(x.toLowerCase()))].join("\n");
        remember(); scheduleValidate();
      });
      row.append(add);
    }
    const fresh = el("button", "New entry");
    fresh.type = "button";
    fresh.addEventListener("click", () => {
      showTab("entries");
      openEntry(null, { question_ids: g.question_ids, action: "new_entry" });
      const f = $("#entry-form").elements;
      f.question.value = g.examples[0];
      f.alternates.value = g.examples.slice(1).join("\n");
      f.answer.value = g.proposed.length ? g.proposed[0].answer : "";
      preview(); remember();
    });
    const notOurs = el("button", "Not ours");
    notOurs.type = "button";
    notOurs.title = "Keep these as out-of-scope examples: the bot learns to decline them";
    notOurs.addEventListener("click", async () => {
      if (!window.confirm(`Mark ${g.count} question(s) as not for this FAQ? The bot will decline questions like them.`)) return;
      try {
        const data = await post("/inbox/not-ours", { question_ids: g.question_ids });
        showBuild(data.version);
        await loadInbox();
      } catch (err) {
        $("#inbox-error").textContent = err.message;
      }
    });
    row.append(fresh, notOurs);
  }
  li.append(row);
  return li;
}

// -- CSV import ------------------------------------------------------------------------------

let csvText = null;

function planView(plan) {
  const out = el("div");
  out.append(el("p", `${plan.added.length} to add, ${plan.updated.length} to update, ${plan.deleted.length} to delete, ` +
                     `${plan.unchanged.length} unchanged.`));
  if (plan.errors.length) {
    out.append(el("h3", "Errors: fix these in the file, nothing is imported until then"));
    const list = el("ul");
    for (const e of plan.errors) list.append(el("li", `row ${e.row}${e.column ? ", column " + e.column : ""}: ${e.message}`, "issue-error"));
    out.append(list);
  }
  if (plan.warnings.length) {
    const list = el("ul");
    for (const w of plan.warnings) list.append(el("li", `row ${w.row}: ${w.message}`, "issue-warning"));
    out.append(el("h3", "Warnings"), list);
  }
  for (const c of plan.changes) {
    const box = el("div", null, "decision");
    box.append(el("h4", `${c.kind}: ${c.id}` + (c.row ? ` (row ${c.row})` : "")));
    if (c.kind === "updated") {
      for (const [field, ba] of Object.entries(c.diff)) {
        box.append(el("strong", field), el("del", fieldText(ba.before)), el("ins", fieldText(ba.after)));
      }
    } else if (c.entry) {
      box.append(el(c.kind === "deleted" ? "del" : "ins", c.entry.question));
    }
    out.append(box);
  }
  return out;
}

async function previewImport(ev) {
  ev.preventDefault();
  const f = $("#csv-form").elements;
  $("#csv-error").textContent = "";
  $("#csv-apply").disabled = true;
  csvText = await f.file.files[0].text();
  try {
    const data = await post("/import", { csv: csvText, delete_missing: f.delete_missing.checked });
    $("#csv-plan").replaceChildren(planView(data.plan));
    $("#csv-apply").disabled = !(data.plan.ok && data.plan.changes.length && canPublish);
  } catch (err) {
    $("#csv-error").textContent = err.message;
  }
}

async function applyImport() {
  const f = $("#csv-form").elements;
  try {
    const data = await post("/import", { csv: csvText, delete_missing: f.delete_missing.checked, apply: true,
                                         message: f.message.value });
    showBuild(data.version);
    $("#csv-plan").replaceChildren(el("p", `Imported as version ${data.version.id}.`));
    $("#csv-apply").disabled = true;
    await loadEntries();
  } catch (err) {
    $("#csv-error").textContent = err.message;
    if (err.body && err.body.plan) $("#csv-plan").replaceChildren(planView(err.body.plan));
  }
}

// -- wiring ------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", async () => {
  wireLogin((credentials) => post("/login", credentials), showApp);
  $("#logout").addEventListener("click", async () => { await post("/logout").catch(() => {}); csrf = null; showLogin(); });
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  $("#search").addEventListener("input", renderList);
  $("#new-entry").addEventListener("click", () => openEntry(null));
  const form = $("#entry-form");
  form.addEventListener("input", (ev) => {
    if (ev.target.name === "answer") preview();
    if (ev.target.name !== "message") { remember(); scheduleValidate(); }
  });
  form.addEventListener("submit", (ev) => { ev.preventDefault(); publish(); });
  $("#delete").addEventListener("click", remove);
  $("#discard").addEventListener("click", () => { localStorage.removeItem(draftKey()); openEntry(original); });
  $("#try-form").addEventListener("submit", tryQuestion);
  $("#regression").addEventListener("click", regression);
  $("#rollback").addEventListener("click", rollback);
  $("#csv-form").addEventListener("submit", previewImport);
  $("#csv-apply").addEventListener("click", applyImport);
  setInterval(refreshStatus, 2000);
  try { await showApp(await api("/me")); } catch (err) { showLogin(); }
});
