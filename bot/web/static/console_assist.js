// The console's agent assist (issue 19): suggested FAQ answers for the customer's latest message, "why
// the bot did what it did" on every bot turn, canned replies inserted with "/" + name. Built on the hooks
// console.js exposes (window.supportConsole). Everything is inserted with textContent, never as HTML.
"use strict";

(() => {
  const sc = window.supportConsole;
  const { api, el } = sc;
  const q = (sel) => document.querySelector(sel);
  const NAME_AT_CARET = /(?:^|\s)\/([a-z0-9-]*)$/;  // "/ref" just before the caret
  let canned = [];
  let matches = [];
  let active = -1;
  let assistFor = null;  // the hand-off the shown suggestions are for

  // -- why the bot did what it did --------------------------------------------------------------
  function num(x) { return typeof x === "number" ? x.toFixed(3) : "—"; }

  function whyPanel(li, t) {
    const w = t.why;
    if (t.role !== "bot" || !w) return;
    const box = el("details", null, "why");
    box.append(el("summary", "Why: " + w.decision + (w.candidates.length ? " · top " + num(w.candidates[0].score) : "")));
    if (w.reason) box.append(el("p", w.reason, "why-reason"));
    const table = el("table", null, "why-candidates");
    table.append(el("caption", "Top candidates"));
    const head = el("tr");
    head.append(el("th", "Entry"), el("th", "Question"), el("th", "Score"));
    table.append(head);
    for (const c of w.candidates) {
      const tr = el("tr");
      tr.append(el("td", c.id), el("td", c.question || "(no longer in the FAQ)"), el("td", num(c.score)));
      table.append(tr);
    }
    const th = w.thresholds || {};
    box.append(table, el("p", "Thresholds at the time" + (th.source ? " (" + th.source + ")" : "") + ": answer ≥ " +
      num(th.answer) + " and lead ≥ " + num(th.margin) + "; clarify ≥ " + num(th.clarify) + " within " +
      num(th.window) + " of the best · index " + (w.index || "—"), "why-thresholds"));
    li.append(box);
  }

  // -- agent assist -----------------------------------------------------------------------------
  // An answer's Markdown as the plain text an agent sends (the widget shows agents' words as text, so
  // "**" would reach the customer as it is): emphasis dropped, a link as "words (address)", one line
  // per paragraph, list item and line break.
  function plainText(markdown) {
    const node = sc.answer(markdown);
    for (const a of node.querySelectorAll("a[href]")) {
      const href = a.getAttribute("href");
      if (href !== a.textContent) a.append(" (" + href + ")");
    }
    for (const li of node.querySelectorAll("li")) li.prepend("- ");
    for (const br of node.querySelectorAll("br")) br.replaceWith("\n");
    for (const block of node.querySelectorAll("p, li, h1, h2, h3, h4, h5, h6, pre, blockquote")) block.append("\n");
    return node.textContent.replace(/\n{3,}/g, "\n\n").trim();
  }

  function assistSection() {
    let s = q("#assist");
    if (s) return s;
    s = el("section");
    s.id = "assist";
    s.setAttribute("aria-labelledby", "assist-title");
    const h = el("h3", "Suggested answers");
    h.id = "assist-title";
    const status = el("p", "", "assist-status");
    status.id = "assist-status";
    status.setAttribute("role", "status");
    const list = el("ol");
    list.id = "assist-list";
    s.append(h, el("p", "", "assist-for"), list, status);
    q("#reply").before(s);
    return s;
  }

  async function loadAssist(id) {
    const s = assistSection();
    let d;
    try {
      d = await api("/handoffs/" + encodeURIComponent(id) + "/assist", { method: "POST", body: "{}" });
    } catch (e) { if (sc.current === id) q("#assist-status").textContent = e.message; return; }
    if (sc.current !== id) return;  // another hand-off was opened meanwhile
    assistFor = id;
    s.querySelector(".assist-for").textContent = d.text ? "For what the customer asked: “" + d.text + "”"
                                                         : "The customer has not asked anything yet.";
    const list = q("#assist-list");
    list.replaceChildren();
    for (const e of d.entries) {
      const li = el("li");
      li.dataset.entry = e.id;
      const title = el("p", null, "assist-entry");
      title.append(el("strong", e.question), el("span", " · " + e.id + " · score " + num(e.score), "meta"));
      const use = el("button", "Use this answer");
      use.type = "button";
      use.setAttribute("aria-label", "Use this answer: " + e.question);
      use.addEventListener("click", () => {
        const box = sc.replyBox();
        box.value = plainText(e.answer);  // to edit and send: never sent from here
        box.focus();
        q("#assist-status").textContent = "The answer is in the reply box: edit it, then Send.";
      });
      li.append(title, sc.answer(e.answer, "assist-answer"), use);
      list.append(li);
    }
    q("#assist-status").textContent = d.entries.length ? "" : "No FAQ entry comes close.";
  }

  // -- canned replies: "/" + name in the reply box ----------------------------------------------
  async function loadCanned() {
    try { canned = (await api("/canned")).canned; } catch (e) { canned = []; }
  }

  function suggestions() {
    let ul = q("#canned-suggestions");
    if (ul) return ul;
    ul = el("ul");
    ul.id = "canned-suggestions";
    ul.setAttribute("role", "listbox");
    ul.setAttribute("aria-label", "Canned replies");
    ul.hidden = true;
    const status = el("p", "", "sr-only");
    status.id = "canned-status";
    status.setAttribute("role", "status");
    q("#reply").after(ul, status);
    const box = sc.replyBox();
    box.setAttribute("aria-autocomplete", "list");
    box.setAttribute("aria-controls", "canned-suggestions");
    return ul;
  }

  function closeSuggestions() {
    const ul = suggestions();
    ul.hidden = true; matches = []; active = -1;
    sc.replyBox().removeAttribute("aria-activedescendant");
  }

  function showActive() {
    const ul = suggestions();
    [...ul.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    if (active >= 0) sc.replyBox().setAttribute("aria-activedescendant", "canned-opt-" + active);
  }

  function typed() {
    const box = sc.replyBox();
    const m = NAME_AT_CARET.exec(box.value.slice(0, box.selectionStart));
    return m ? m[1] : null;
  }

  function onInput() {
    const name = typed();
    if (name === null) { closeSuggestions(); return; }
    matches = canned.filter((c) => c.name.startsWith(name));
    const ul = suggestions();
    ul.replaceChildren();
    matches.forEach((c, i) => {
      const li = el("li");
      li.id = "canned-opt-" + i;
      li.setAttribute("role", "option");
      li.append(el("strong", "/" + c.name), el("span", " " + c.text, "canned-preview"));
      li.addEventListener("mousedown", (ev) => { ev.preventDefault(); insert(c); });
      ul.append(li);
    });
    ul.hidden = matches.length === 0;
    active = matches.length ? 0 : -1;
    showActive();
    q("#canned-status").textContent = matches.length
      ? matches.length + " canned repl" + (matches.length === 1 ? "y" : "ies") + ": arrows to choose, Enter to insert"
      : "No canned reply starts with /" + name;
  }

  function insert(c) {
    const box = sc.replyBox();
    const before = box.value.slice(0, box.selectionStart);
    const start = before.lastIndexOf("/");
    box.value = before.slice(0, start) + c.text + box.value.slice(box.selectionStart);
    const caret = start + c.text.length;
    box.setSelectionRange(caret, caret);
    closeSuggestions();
    q("#canned-status").textContent = "Inserted /" + c.name + ": edit it, then Send.";
    box.focus();
  }

  function onKey(ev) {
    if (!matches.length || suggestions().hidden) return;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      active = (active + (ev.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
      showActive();
    } else if (ev.key === "Enter" || ev.key === "Tab") {
      ev.preventDefault();
      insert(matches[active]);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      closeSuggestions();
    }
  }

  sc.on("transcriptLine", whyPanel);
  sc.on("open", (d) => {
    if (assistFor !== d.handoff.id) { const l = q("#assist-list"); if (l) l.replaceChildren(); }
    loadAssist(d.handoff.id);
    loadCanned();
  });
  sc.on("messages", (messages) => {
    const id = sc.current;
    if (id && messages.some((m) => m.role === "customer")) loadAssist(id);
  });
  document.addEventListener("DOMContentLoaded", () => {
    suggestions();
    const box = sc.replyBox();
    box.addEventListener("input", onInput);
    box.addEventListener("keydown", onKey);
    box.addEventListener("blur", closeSuggestions);
  });
})();
