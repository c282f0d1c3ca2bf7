// Agent console. Everything from customers is inserted with textContent, never as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
let csrf = null;
let current = null;        // id of the open hand-off
let lastMessage = 0;       // id of the last hand-off message shown
let me = null;

const api = staffApi("/console/api", () => csrf);  // staff.js, as el()

function waited(seconds) {
  if (seconds < 60) return seconds + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}

function showLogin() {
  me = null;
  $("#login").hidden = false; $("#app").hidden = true; $("#logout").hidden = true; $("#whoami").textContent = "";
  notify("logout");
}

function showApp(agent) {
  me = agent;
  $("#login").hidden = true; $("#app").hidden = false; $("#logout").hidden = false;
  $("#whoami").textContent = "Logged in as " + agent;
  notify("login", agent);
}

async function refreshQueue() {
  if (!me) return;  // polls only while logged in: a late 401 from before the login must not log us out
  let data;
  try { data = await api("/queue"); } catch (e) { if (e.status === 401) showLogin(); return; }
  renderQueueLists(data.handoffs);
  $("#online").textContent = data.agents_online.length + " agent(s) online";
  notify("queue", data);
}

// Live chats and tickets are different work: two lists, each with its own positions (issue 19).
function renderQueueLists(handoffs) {
  const live = handoffs.filter((h) => !h.ticket);
  const tickets = handoffs.filter((h) => h.ticket);
  fillQueueTable($("#queue tbody"), live,
                 (h) => h.state === "queued" ? "#" + h.position : "with " + h.agent);
  fillQueueTable($("#tickets tbody"), tickets,
                 (h) => (h.customer_email || "no email address") + (h.state === "queued" ? "" : " · with " + h.agent));
  $("#queue-empty").hidden = live.length > 0;
  $("#tickets-empty").hidden = tickets.length > 0;
}

function fillQueueTable(body, handoffs, status) {
  body.replaceChildren();
  for (const h of handoffs) {
    const tr = el("tr");
    tr.dataset.id = h.id;
    if (h.id === current) tr.className = "selected";
    tr.append(el("td", waited(h.wait_seconds)), el("td", h.reason.replace(/_/g, " ")),
              el("td", h.first_question || "—"), el("td", status(h)));
    const open = el("button", "Open");
    open.setAttribute("aria-label", "Open " + (h.ticket ? "ticket: " : "chat: ") + (h.first_question || h.id));
    open.addEventListener("click", () => openHandoff(h.id));
    const td = el("td"); td.append(open); tr.append(td);
    body.append(tr);
  }
}

// A bot answer as the customer saw it: its Markdown through markdown.js (marked, then DOMPurify), the
// widget's own renderer. Only bot answers: what customers and agents type stays text.
function answer(text, cls) {
  return window.SupportbotMarkdown.fill(el("div", undefined, "md" + (cls ? " " + cls : "")), text);
}

function line(role, text, meta) {
  const li = el("li", role === "bot" ? undefined : text, role);
  if (role === "bot") li.append(answer(text));
  li.append(el("span", meta, "meta"));
  $("#transcript").append(li);
  li.scrollIntoView({ block: "nearest" });
  return li;
}

function time(iso) { return new Date(iso).toLocaleTimeString(); }

function showState(h) {
  $("#conv-state").textContent = h.state + (h.agent ? " · " + h.agent : "") + (h.ticket ? " · ticket" : "");
  const mine = h.state === "assigned" && h.agent === me;
  $("#claim").hidden = h.state !== "queued";
  $("#resolve").hidden = !(mine || h.state === "queued");
  $("#handback").hidden = !(mine || h.state === "queued");
  $("#abandon").hidden = !(mine || h.state === "queued");
  $("#reply").hidden = !mine;
  $("#suggest").hidden = h.state !== "resolved";
  notify("state", h);
}

async function openHandoff(id) {
  if (id !== current) { $("#suggest").disabled = false; $("#suggest").textContent = "Suggest for the FAQ"; }
  current = id; lastMessage = 0;
  $("#conv-error").textContent = "";
  const d = await api("/handoffs/" + encodeURIComponent(id));
  $("#conversation").hidden = false;
  $("#s-first").textContent = d.summary.first_question || "—";
  $("#s-tried").textContent = d.summary.faq_tried.join(", ") || "none";
  $("#s-last").textContent = d.summary.last_message || "—";
  $("#s-customer").textContent = [d.customer.name, d.customer.email].filter(Boolean).join(", ") || "unknown";
  $("#s-reason").textContent = d.handoff.reason.replace(/_/g, " ") + " · " + d.handoff.channel;
  $("#transcript").replaceChildren();
  for (const t of d.transcript) {
    const source = t.faq_id ? " · FAQ " + t.faq_id + (t.faq_score !== null ? " (" + t.faq_score + ")" : "") : "";
    const buttons = t.buttons.length ? " · buttons: " + t.buttons.map((b) => b.title).join(" | ") : "";
    const li = line(t.role, t.text, time(t.at) + " · " + (t.author || t.role) + source + buttons);
    notify("transcriptLine", li, t);
  }
  appendMessages(d.messages);
  showState(d.handoff);
  showTicketPanel(d.handoff, d.emails);
  notify("open", d);
  refreshQueue();
}

function appendMessages(messages) {
  for (const m of messages) {
    if (m.id <= lastMessage) continue;  // a message can come both live and by polling
    line(m.role, m.text, time(m.at) + " · " + (m.author || m.role));
    lastMessage = Math.max(lastMessage, m.id);
  }
  if (messages.length) notify("messages", messages);
}

async function pollConversation() {
  if (!current || !me) return;
  try {
    const d = await api("/handoffs/" + encodeURIComponent(current) + "/messages?after=" + lastMessage);
    appendMessages(d.messages);
    showState(d);
    showTicketPanel(d, d.emails);
  } catch (e) { if (e.status === 401) showLogin(); }
}

// -- tickets: replies by email (issue 19) --------------------------------------------------------
let shownEmails = "";

function showTicketPanel(h, emails) {
  $("#ticket-reply").hidden = !h.ticket;
  if (!h.ticket) return;
  if ("customer_email" in h) {
    $("#ticket-to").textContent = h.customer_email ? "to " + h.customer_email : "· no email address yet";
  }
  $("#email-reply").hidden = !(h.state === "queued" || (h.state === "assigned" && h.agent === me));
  renderEmails(emails || []);
}

function emailStatus(m) {
  if (m.state === "sent") return "sent " + time(m.sent_at);
  if (m.state === "queued") return "queued, sending…";
  const tries = m.attempts + (m.attempts === 1 ? " attempt" : " attempts");
  if (m.state === "retrying") return "retrying (" + tries + "; next " + time(m.next_attempt_at) + "): " + m.error;
  return "failed after " + tries + ": " + m.error;
}

function renderEmails(emails) {
  const key = JSON.stringify(emails);
  if (key === shownEmails) return;  // polled every half second: redraw only on a change
  shownEmails = key;
  const list = $("#email-status");
  list.replaceChildren();
  for (const m of emails) {
    const li = el("li", null, "email " + m.state);
    li.dataset.id = m.id;
    li.append(el("span", time(m.created_at) + " · " + m.agent + " to " + m.to + ": ", "meta"),
              el("span", emailStatus(m), "email-state"));
    if (m.state === "failed") {
      const again = el("button", "Send again");
      again.addEventListener("click", () => sendEmailAgain(m.id));
      li.append(again);
    }
    list.append(li);
  }
}

async function sendEmailReply(ev) {
  ev.preventDefault();
  const box = ev.target.elements.text;
  $("#conv-error").textContent = "";
  try {
    await api("/handoffs/" + encodeURIComponent(current) + "/email",
              { method: "POST", body: JSON.stringify({ text: box.value }) });
    box.value = "";  // kept on any error: nothing typed is lost
    pollConversation();
  } catch (e) { $("#conv-error").textContent = e.message; }
}

async function sendEmailAgain(id) {
  $("#conv-error").textContent = "";
  try {
    await api("/handoffs/" + encodeURIComponent(current) + "/emails/" + id + "/retry", { method: "POST", body: "{}" });
    pollConversation();
  } catch (e) { $("#conv-error").textContent = e.message; }
}

async function act(path) {
  $("#conv-error").textContent = "";
  try {
    await api("/handoffs/" + encodeURIComponent(current) + path, { method: "POST", body: "{}" });
    await openHandoff(current);
  } catch (e) { $("#conv-error").textContent = e.message; refreshQueue(); }
}

document.addEventListener("DOMContentLoaded", async () => {
  wireLogin((credentials) => api("/login", { method: "POST", body: JSON.stringify(credentials) }),
            (d) => { csrf = d.csrf; showApp(d.agent); refreshQueue(); });
  $("#logout").addEventListener("click", async () => {
    await api("/logout", { method: "POST", body: "{}" }).catch(() => {});
    csrf = null; current = null; showLogin();
  });
  $("#claim").addEventListener("click", () => act("/claim"));
  $("#resolve").addEventListener("click", () => act("/resolve"));
  $("#handback").addEventListener("click", () => act("/return"));
  $("#abandon").addEventListener("click", () => act("/abandon"));
  $("#suggest").addEventListener("click", async () => {
    $("#conv-error").textContent = "";
    try {
      await api("/handoffs/" + encodeURIComponent(current) + "/suggest", { method: "POST", body: "{}" });
      $("#suggest").textContent = "Suggested for the FAQ";
      $("#suggest").disabled = true;
    } catch (e) { $("#conv-error").textContent = e.message; }
  });
  $("#email-reply").addEventListener("submit", sendEmailReply);
  $("#reply").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const box = ev.target.elements.text;
    try {
      await api("/handoffs/" + encodeURIComponent(current) + "/messages",
                { method: "POST", body: JSON.stringify({ text: box.value }) });
      box.value = "";
      pollConversation();
    } catch (e) { $("#conv-error").textContent = e.message; }
  });
  try {
    const d = await api("/me"); csrf = d.csrf; showApp(d.agent); refreshQueue();
  } catch (e) { if (!me) showLogin(); }  // unless a login finished while /me was in flight
  setInterval(() => window.supportConsole.polling && refreshQueue(), 3000);
  setInterval(() => window.supportConsole.polling && pollConversation(), 500);
});

// Hooks for the console's feature files (console_live.js: live updates over socket.io; console_assist.js:
// suggestions, Why panels, canned replies): sc.on(what, listener) for login, logout, queue (its data),
// open (a hand-off's detail), state (its state, on each showing), transcriptLine (li, line) and messages
// (each batch of new messages). console_desk.js: notes, transfer, earlier hand-offs. answer(text) renders
// a bot answer's Markdown safely.
function notify(what, ...args) {
  for (const listener of window.supportConsole.listeners[what]) listener(...args);
}
window.supportConsole = {
  polling: true,  // false while live updates arrive (console_live.js); then nothing polls every half second
  listeners: { login: [], logout: [], queue: [], open: [], state: [], transcriptLine: [], messages: [] },
  on(what, listener) { this.listeners[what].push(listener); },
  get current() { return current; },
  get me() { return me; },
  open: openHandoff,
  replyBox: () => $("#reply textarea"),
  api, el, answer, time, refreshQueue, pollConversation, appendMessages, showState, waited,
};
