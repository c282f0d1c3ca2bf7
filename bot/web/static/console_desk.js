// The console's desk (issue 19): internal notes, transfer to another agent, earlier hand-offs and
// earlier conversations with the bot (Rasa sessions; their transcripts shown in #session-transcript).
// Uses console.js's window.supportConsole hook; everything shown is inserted with textContent.
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const C = window.supportConsole;
  const NOTE_LABEL = "Internal note — not sent to the customer";
  const HANDOFF_BANNER = "Read-only: an earlier hand-off of this customer.";
  let role = null;        // the logged-in account's role (admins may transfer any assigned hand-off)
  let liveId = null;      // the hand-off opened from the queue (an earlier one opens read-only)
  let earlierFor = null;  // whose earlier hand-offs the list shows
  let readOnlyId = null;  // the earlier hand-off open read-only now
  let sessionOpen = null; // the index of the earlier session whose transcript is shown now

  function path(suffix) { return "/handoffs/" + encodeURIComponent(C.current) + suffix; }
  function fail(e) { $("#conv-error").textContent = e.message; }

  // Notes in the transcript: a label in words and a style of their own, not colour alone.
  function markNotes() {
    for (const li of document.querySelectorAll("#transcript li.note:not([data-marked])")) {
      li.dataset.marked = "1";
      li.setAttribute("aria-label", NOTE_LABEL);
      li.prepend(C.el("strong", NOTE_LABEL, "note-label"));
    }
  }

  async function myRole() {
    if (role === null) role = (await C.api("/me")).role;
    return role;
  }

  async function fillAgents() {
    const select = $("#transfer-to");
    const { agents } = await C.api("/agents");
    const chosen = select.value;
    select.replaceChildren();
    for (const a of agents) {
      const option = C.el("option", a.name + (a.online ? " (online)" : " (offline)"));
      option.value = a.name;
      select.append(option);
    }
    if (chosen) select.value = chosen;
  }

  async function showTransfer(h) {
    const form = $("#transfer-form");
    let may = h.state === "assigned" && h.agent === C.me;
    if (!may && h.state === "assigned") {
      if (role === null) form.hidden = true;  // not left showing while the role is asked for
      may = (await myRole()) === "admin";
    }
    if (may && form.hidden) fillAgents().catch(fail);
    form.hidden = !may;
  }

  // A row of an "earlier" list: what it was, its first question, how it was found, a button to open it.
  function renderList(list, empty, rows, item) {
    list.replaceChildren();
    for (const r of rows) {
      const it = item(r);
      const li = C.el("li");
      li.append(C.el("span", it.meta, "meta"), C.el("span", " " + (r.first_question || "—") + " "),
                C.el("small", "[" + it.how + "] "));
      const open = C.el("button", it.button);
      open.type = "button";
      open.setAttribute("aria-label", it.button + ": " + it.what);
      open.addEventListener("click", () => it.open().catch(fail));
      li.append(open);
      list.append(li);
    }
    empty.hidden = rows.length > 0;
  }

  function renderEarlier(rows) {
    renderList($("#earlier"), $("#earlier-empty"), rows, (e) => {
      const when = new Date(e.created_at).toLocaleString();
      const rating = e.rating ? " · rated " + e.rating + "/5" : "";
      return { meta: when + " · " + e.state.replace(/_/g, " ") + " · " + e.reason.replace(/_/g, " ") + rating +
                     (e.agent ? " · " + e.agent : ""),
               how: e.match,
               button: "Open read-only", what: "earlier hand-off of " + when, open: () => openEarlier(e.id) };
    });
  }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function renderSessions(rows) {
    renderList($("#earlier-sessions"), $("#earlier-sessions-empty"), rows, (s) => {
      const when = new Date(s.started_at).toLocaleString();
      const faq = s.faq_answered.length ? "FAQ answered: " + s.faq_answered.join(", ") : "no FAQ answer";
      return { meta: when + " – " + C.time(s.ended_at) + " · " + plural(s.customer_messages, "customer message") +
                     " · " + faq + " · " + (s.handed_off ? "handed to a person" : "bot only"),
               how: s.match, button: "Open transcript read-only", what: "earlier conversation of " + when,
               open: () => openSession(s.index) };
    });
  }

  function showSession(on) {  // the session's transcript in place of the hand-off's, or back
    $("#transcript").hidden = on;
    $("#summary").hidden = on;
    $("#note-form").hidden = on;  // a note belongs to a hand-off, not to this old conversation
    const assist = $("#assist");  // console_assist.js's suggestions are for the current hand-off
    if (assist) assist.hidden = on;
    $("#session-transcript").hidden = !on;
    $("#readonly-banner").hidden = !on;
    if (on) readOnly();
  }

  async function openSession(index) {
    const d = await C.api("/handoffs/" + encodeURIComponent(liveId) + "/sessions/" + index);
    const list = $("#session-transcript");
    list.replaceChildren();
    for (const t of d.transcript) {
      const li = C.el("li", t.role === "bot" ? undefined : t.text, t.role);
      if (t.role === "bot") li.append(C.answer(t.text));
      const buttons = t.buttons.length ? " · buttons: " + t.buttons.join(" | ") : "";
      li.append(C.el("span", C.time(t.at) + " · " + (t.author || t.role) + (t.faq_id ? " · FAQ " + t.faq_id : "") +
                             buttons, "meta"));
      list.append(li);
    }
    sessionOpen = index;
    $("#readonly-what").textContent = "Read-only: an earlier conversation of this customer with the bot (" +
      new Date(d.session.started_at).toLocaleString() + ").";
    showSession(true);
  }

  function readOnly() {  // an earlier hand-off: nothing to act on from here, nor suggestions for it
    for (const f of ["#reply", "#transfer-form", "#email-reply"]) $(f).hidden = true;
    const assist = $("#assist");
    if (assist) assist.hidden = true;
    for (const b of document.querySelectorAll("#conversation .actions button")) b.hidden = true;
  }

  async function openEarlier(id) {
    readOnlyId = id;
    await C.open(id);
  }

  C.on("open", (d) => {
    markNotes();
    if (sessionOpen !== null) {  // back from an earlier session: its state shown again, now editable
      sessionOpen = null;
      showSession(false);
      C.showState(d.handoff);
    }
    if (d.handoff.id === readOnlyId) {
      $("#readonly-what").textContent = HANDOFF_BANNER;
      $("#readonly-banner").hidden = false;
      readOnly();
      return;
    }
    readOnlyId = null; liveId = d.handoff.id; $("#readonly-banner").hidden = true;
    const assist = $("#assist");
    if (assist) assist.hidden = false;
    if (earlierFor !== liveId) {
      earlierFor = liveId;
      C.api(path("/earlier")).then((r) => renderEarlier(r.earlier)).catch(fail);
      C.api(path("/sessions")).then((r) => renderSessions(r.sessions)).catch(fail);
    }
  });
  C.on("state", (h) => {
    markNotes();
    if (sessionOpen !== null || (readOnlyId !== null && readOnlyId === C.current)) { readOnly(); return; }
    showTransfer(h).catch(fail);
  });

  document.addEventListener("DOMContentLoaded", () => {
    new MutationObserver(markNotes).observe($("#transcript"), { childList: true });
    $("#summary").before($("#readonly-banner"));  // said above the conversation, where it is read first
    $("#back-to-current").addEventListener("click", () => {
      readOnlyId = null;
      C.open(liveId).catch(fail);  // its "open" puts the hand-off's transcript back
    });
    $("#note-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const box = $("#note-text");
      $("#conv-error").textContent = "";
      try {
        await C.api(path("/notes"), { method: "POST", body: JSON.stringify({ text: box.value }) });
        box.value = "";  // kept on any error: nothing typed is lost
        C.pollConversation();
      } catch (e) { fail(e); }
    });
    $("#transfer-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      $("#conv-error").textContent = "";
      try {
        await C.api(path("/transfer"), { method: "POST",
          body: JSON.stringify({ to: $("#transfer-to").value, note: $("#transfer-note").value }) });
        $("#transfer-note").value = "";
        await C.open(C.current);
      } catch (e) { fail(e); }
    });
  });
})();
