// Supportbot chat widget. Embed with one tag:
//   <script src="https://bot.example.com/widget/widget.js" data-title="Help" data-color="#0b5cff"></script>
// Options come from data- attributes or window.SupportbotConfig (see docs/widget.md).
// Customer and agent text is inserted with textContent; bot answers are Markdown rendered by marked
// and sanitised by DOMPurify before they touch the page, through markdown.js (the editor's preview
// uses the same file, so editors see what customers see).
(function () {
  "use strict";
  if (window.__supportbotWidget) return;
  window.__supportbotWidget = true;

  const script = document.currentScript;
  const base = new URL(script.src, location.href);
  const data = script.dataset;
  const user = window.SupportbotConfig || {};
  const config = {
    server: user.server || data.server || base.origin,
    title: user.title || data.title || "Chat with us",
    color: user.color || data.color || "#0b5cff",
    greeting: user.greeting || data.greeting || "",
    open: user.open || data.open === "true",
    // a JWT from a site that logs its customers in: their conversation follows them to any device
    authToken: user.authToken || data.authToken || "",
    strings: Object.assign({
      launcher: "Chat",
      close: "Close chat",
      placeholder: "Type your question…",
      send: "Send",
      person: "Talk to a person",
      typing: "The assistant is typing…",
      offline: "Connection lost. Reconnecting…",
      online: "Connected.",
      fromPerson: "from our support team",
      you: "You",
      bot: "Assistant",
      helpfulAsk: "Was this helpful?",
      helpful: "Yes, helpful",
      notHelpful: "No, not helpful",
      thanks: "Thanks for telling us.",
      queued: (n) => "You are number " + n + " in the queue.",
    }, user.strings || {}),
  };
  const STORE = "supportbot:" + config.server;
  const vendor = new URL("vendor/", base).href;

  function load(src) {
    return new Promise((resolve, reject) => {
      const s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = () => reject(new Error("could not load " + src));
      document.head.append(s);
    });
  }

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- state kept across reloads: the session id and what was said ----------------------------
  function saved() {
    try { return JSON.parse(localStorage.getItem(STORE)) || {}; } catch (e) { return {}; }
  }
  function save(state) { localStorage.setItem(STORE, JSON.stringify(state)); }
  const state = Object.assign({ session: null, token: null, history: [], seen: [] }, saved());

  // -- the DOM ------------------------------------------------------------------------------
  const root = el("div", { class: "sb-root" });
  root.style.setProperty("--sb-color", config.color);
  const launcher = el("button", { class: "sb-launcher", type: "button", "aria-expanded": "false",
                                  "aria-controls": "sb-panel" }, config.strings.launcher);
  const panel = el("section", { class: "sb-panel", id: "sb-panel", role: "dialog", "aria-label": config.title });
  panel.hidden = true;
  const header = el("header", { class: "sb-header" });
  const title = el("h2", { class: "sb-title" }, config.title);
  const person = el("button", { class: "sb-person", type: "button" }, config.strings.person);
  const close = el("button", { class: "sb-close", type: "button", "aria-label": config.strings.close }, "×");
  header.append(title, person, close);
  const status = el("div", { class: "sb-status", role: "status", "aria-live": "polite" });
  status.hidden = true;
  // the conversation: a live region (role="log": new messages are announced) holding a list of
  // messages; focusable, so a keyboard alone can scroll back through it
  const log = el("div", { class: "sb-log", role: "log", "aria-live": "polite", "aria-label": config.title,
                          tabindex: "0" });
  const messages = el("ol", { class: "sb-messages" });
  log.append(messages);
  const typing = el("div", { class: "sb-typing", "aria-live": "polite" }, config.strings.typing);
  typing.hidden = true;
  const form = el("form", { class: "sb-form" });
  const input = el("input", { class: "sb-input", type: "text", maxlength: "4000", autocomplete: "off",
                              "aria-label": config.strings.placeholder, placeholder: config.strings.placeholder });
  const send = el("button", { class: "sb-send", type: "submit" }, config.strings.send);
  form.append(input, send);
  panel.append(header, status, log, typing, form);
  root.append(launcher, panel);

  const css = el("link", { rel: "stylesheet", href: new URL("widget.css", base).href });
  document.head.append(css);
  document.body.append(root);

  function setOpen(open) {
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) { input.focus(); log.scrollTop = log.scrollHeight; } else { launcher.focus(); }
  }
  launcher.addEventListener("click", () => setOpen(panel.hidden));
  close.addEventListener("click", () => setOpen(false));
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") setOpen(false); });

  // -- rendering ----------------------------------------------------------------------------
  function render(item) {
    const li = el("li", { class: "sb-msg sb-" + item.role });
    if (item.role === "bot" && item.markdown) {
      const body = el("div", { class: "sb-body" });
      body.innerHTML = window.SupportbotMarkdown.render(item.text);  // sanitised by DOMPurify
      li.append(body);
    } else {
      li.append(el("div", { class: "sb-body" }, item.text));
    }
    const who = item.role === "agent" ? (item.author || "") + " · " + config.strings.fromPerson
      : item.role === "user" ? config.strings.you : item.role === "bot" ? config.strings.bot : "";
    if (who) li.prepend(el("span", { class: "sb-who" }, who));
    if (item.faq) li.append(feedbackRow(item));
    if (item.buttons && item.buttons.length) {
      const row = el("div", { class: "sb-buttons", role: "group" });
      for (const b of item.buttons) {
        const btn = el("button", { type: "button", class: "sb-button" }, b.title);
        btn.addEventListener("click", () => { row.remove(); item.buttons = []; save(state); say(b.payload, b.title); });
        row.append(btn);
      }
      li.append(row);
    }
    messages.append(li);
    log.scrollTop = log.scrollHeight;
  }

  // "Was this helpful?" under an FAQ answer: two toggle buttons (aria-pressed; Enter or Space); the
  // server keeps the latest vote, and "thanks" appears (announced by the log) once it has stored it
  const unconfirmed = new Map();  // faq id -> what to do when the server confirms the vote on it
  function feedbackRow(item) {
    const row = el("div", { class: "sb-feedback", role: "group", "aria-label": config.strings.helpfulAsk });
    row.append(el("span", { class: "sb-feedback-ask", "aria-hidden": "true" }, config.strings.helpfulAsk));
    const choices = [[true, "👍", config.strings.helpful], [false, "👎", config.strings.notHelpful]];
    const buttons = choices.map(([helpful, icon, label]) => {
      const b = el("button", { type: "button", class: "sb-vote", "aria-label": label,
                               "aria-pressed": String(item.vote === helpful) }, icon);
      b.addEventListener("click", () => {
        for (const other of buttons) other.setAttribute("aria-pressed", String(other === b));
        thanks.textContent = "";
        unconfirmed.set(item.faq, (confirmed) => {  // true once this click's vote is the one confirmed
          if (confirmed !== helpful) return false;  // an earlier click's, overtaken by this one
          item.vote = helpful;
          save(state);
          thanks.textContent = config.strings.thanks;
          return true;
        });
        emit(() => socket.emit("feedback", { session_id: state.session, faq_id: item.faq, helpful }));
      });
      return b;
    });
    const thanks = el("span", { class: "sb-feedback-thanks" }, item.vote === undefined ? "" : config.strings.thanks);
    row.append(...buttons, thanks);
    return row;
  }

  function add(item, keep = true) {
    // only the last message keeps its buttons: older choices are no longer offered
    for (const old of state.history) old.buttons = [];
    for (const row of log.querySelectorAll(".sb-buttons")) row.remove();
    if (keep) { state.history.push(item); state.history = state.history.slice(-200); save(state); }
    render(item);
  }

  function showStatus(text, isError) {
    status.textContent = text;
    status.className = "sb-status" + (isError ? " sb-error" : "");
    status.hidden = !text;
  }

  // -- talking to the server ----------------------------------------------------------------
  let socket = null;
  let typingTimer = null;

  function setTyping(on) {
    typing.hidden = !on;
    clearTimeout(typingTimer);
    if (on) typingTimer = setTimeout(() => { typing.hidden = true; }, 15000);
  }

  // messages and votes wait until the server has confirmed the conversation (after a reconnect too):
  // sent earlier, they would reach the new connection before it joined and be refused
  let joined = false;
  const waiting = [];
  function emit(send) {
    if (joined) send();
    else waiting.push(send);
  }
  function deliver(text) {
    emit(() => socket.emit("user_uttered", { message: text, session_id: state.session }));
  }

  function say(payload, shown) {
    const text = String(payload).trim();
    if (!text) return;
    add({ role: "user", text: shown || text });
    setTyping(true);
    deliver(text);
  }

  // msg is a bot message or a push typed in bot/wire.py: custom.handoff (HandoffStatus),
  // custom.from === "agent" (agent_message), custom.state (state_change).
  // pushes (an agent's messages, status) come at least once, each with its delivery_id: shown once,
  // acknowledged always, so the server sends again only what never arrived
  function received(msg) {
    const id = msg.delivery_id;
    if (typeof id === "number") {
      if (!state.seen.includes(id)) {
        shown(msg);
        state.seen = state.seen.concat(id).slice(-200);
        save(state);
      }
      socket.emit("delivered", { ids: [id] });
    } else {
      shown(msg);
    }
  }
  function shown(msg) {
    setTyping(false);
    const custom = msg.custom || {};
    if (custom.handoff && custom.handoff.live && custom.handoff.position) {
      showStatus(config.strings.queued(custom.handoff.position));
    }
    if (custom.state && custom.state !== "queued") showStatus("");
    // a live hand-off is on while it is queued or with an agent: only then does typing reach anyone
    if (custom.handoff || custom.state) {
      const now = custom.handoff ? custom.handoff.live && custom.handoff.state === "queued" : custom.state;
      state.handoff = now === true || now === "queued" || now === "assigned";
      save(state);
    }
    if (!msg.text) return;
    const buttons = (msg.quick_replies || msg.buttons || []).map((b) => ({ title: b.title, payload: b.payload }));
    if (custom.from === "agent") {
      add({ role: "agent", text: msg.text, author: custom.agent });
    } else {
      add({ role: "bot", text: msg.text, markdown: true, buttons, faq: msg.faq ? msg.faq.id : undefined });
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    say(input.value);
    input.value = "";
  });
  // "customer is typing…" for the agent during a live hand-off, at most every 2 s (the server throttles too)
  let typedAt = 0;
  input.addEventListener("input", () => {
    if (!state.handoff || !joined || !input.value.trim() || Date.now() - typedAt < 2000) return;
    typedAt = Date.now();
    socket.emit("user_typing", { session_id: state.session });
  });
  person.addEventListener("click", () => { setOpen(true); say("/request_human", config.strings.person); });

  function connect() {
    const options = { path: "/socket.io", reconnectionDelayMax: 5000 };
    // a function is asked again on every (re)connection, so an expired JWT can be replaced
    if (config.authToken) {
      options.auth = (cb) => Promise.resolve(typeof config.authToken === "function" ? config.authToken()
        : config.authToken).then((token) => cb({ token }));
    }
    socket = window.io(config.server, options);
    // the server issues the conversation and a token bound to it; both are needed to continue it
    const request = () => socket.emit("session_request", state.session
      ? { session_id: state.session, token: state.token, history: state.history.length === 0 }
      : { history: true });
    socket.on("connect", request);
    socket.on("session_confirm", (confirmed) => {
      const id = typeof confirmed === "string" ? confirmed : confirmed.session_id;
      const fresh = id !== state.session;
      state.session = id;
      state.token = confirmed.token || null;  // none for a logged-in customer: their JWT opens it
      if (confirmed.max_message_chars) input.maxLength = confirmed.max_message_chars;
      if (fresh) { state.history = []; state.seen = []; messages.replaceChildren(); }
      save(state);
      showStatus(status.classList.contains("sb-error") ? "" : status.textContent);
      if (fresh && config.greeting) add({ role: "bot", text: config.greeting, markdown: true });
      joined = true;
      while (waiting.length) waiting.shift()();
    });
    // the conversation so far, for a device that has none of it (e.g. a logged-in customer's phone)
    socket.on("history", (items) => {
      if (!Array.isArray(items) || !items.length) return;
      state.history = [];
      messages.replaceChildren();
      for (const item of items) {
        const role = item.from === "customer" ? "user" : item.from === "agent" ? "agent" : "bot";
        add({ role, text: String(item.text || ""), author: item.agent, markdown: role === "bot",
              buttons: item.buttons || [] });
      }
    });
    socket.on("error", (problem) => {
      setTyping(false);
      if (problem && problem.field === "token") {
        state.session = null; state.token = null;  // no longer ours: start a new conversation
        joined = false;
        save(state);
        request();
        return;
      }
      showStatus((problem && problem.error) || config.strings.offline, true);
    });
    socket.on("bot_uttered", received);
    socket.on("feedback_confirm", (vote) => {
      const done = vote && unconfirmed.get(vote.faq_id);
      if (done && done(vote.helpful)) unconfirmed.delete(vote.faq_id);
    });
    socket.on("disconnect", () => { joined = false; showStatus(config.strings.offline, true); });
    socket.on("connect_error", (err) => {
      joined = false;
      // refused by the server (e.g. an expired JWT): say why; socket.io does not retry those
      showStatus((err && err.data && err.data.error) || config.strings.offline, true);
    });
  }

  // markdown.js uses marked and DOMPurify only when it renders, so all four load at once
  Promise.all([load(vendor + "socket.io.min.js"), load(vendor + "marked.umd.js"), load(vendor + "purify.min.js"),
               load(new URL("markdown.js", base).href)]).then(() => {
    for (const item of state.history) render(item);  // the conversation so far, after a reload
    connect();
    if (config.open) setOpen(true);
  }).catch((e) => showStatus(e.message, true));
})();
