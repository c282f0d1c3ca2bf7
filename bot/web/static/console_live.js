// Agent console, live updates (issue 19): a socket.io connection to the staff namespace, authenticated
// by the console's session cookie. While it is connected the console does not poll; when it drops, the
// console polls again and says so. Also: the title badge and optional sound for new hand-offs, and the
// wait-time warning in the live queue. Everything from customers is inserted with textContent.
"use strict";

(() => {
  const sc = window.supportConsole;
  const $ = (sel) => document.querySelector(sel);
  const BASE_TITLE = document.title;
  const SOUND_KEY = "supportbot:console:sound";
  const RECONNECTING = "reconnecting — refreshing every few s";
  let socket = null;
  let queue = null;          // the last /api/queue answer, and when it came
  let queueAt = 0;
  let known = null;          // ids of hand-offs already in the queue (null: nothing seen yet)
  let unseen = 0;            // new hand-offs since the agent last touched the page
  let overdue = 0;
  let audio = null;
  let typingTimer = null;

  const el = sc.el;  // staff.js's

  // -- the status line, the sound toggle, "customer is typing…" -------------------------------
  const status = el("span", "", "live-status");
  status.id = "live-status";
  status.setAttribute("role", "status");
  const soundLabel = el("label", null, "live-sound");
  const sound = el("input");
  sound.type = "checkbox";
  sound.id = "live-sound";
  sound.checked = localStorage.getItem(SOUND_KEY) === "on";
  soundLabel.append(sound, " Sound for new hand-offs");
  const typing = el("p", "", "live-typing");
  typing.id = "live-typing";
  typing.setAttribute("aria-live", "polite");

  function setStatus(text, live) {
    status.textContent = text;
    status.classList.toggle("is-live", !!live);
  }

  function beep() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    audio = audio || new Context();
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = 880;
    gain.gain.value = 0.15;
    tone.connect(gain).connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.25);
  }

  function showTyping() {
    typing.textContent = "Customer is typing…";
    clearTimeout(typingTimer);
    typingTimer = setTimeout(() => { typing.textContent = ""; }, 4000);
  }

  function hideTyping() { clearTimeout(typingTimer); typing.textContent = ""; }

  // -- title badge and wait-time warning ----------------------------------------------------------
  function updateTitle() {
    const badge = unseen ? "(" + unseen + ") " : "";
    const late = overdue ? "⚠ " + overdue + " waiting too long · " : "";
    document.title = badge + late + BASE_TITLE;
  }

  // the live queue's rows: waited time ticking locally, and a mark (icon and words) past the setting
  function markQueue() {
    if (!queue) return;
    const limit = queue.wait_warning_seconds;
    const elapsed = Math.floor((Date.now() - queueAt) / 1000);
    const byId = new Map(queue.handoffs.map((h) => [h.id, h]));
    overdue = 0;
    for (const tr of document.querySelectorAll("#queue tbody tr")) {
      const h = byId.get(tr.dataset.id);
      if (!h) continue;
      const wait = h.wait_seconds + elapsed;
      const late = h.state === "queued" && !h.ticket && wait > limit;
      overdue += late;
      tr.classList.toggle("overdue", late);
      const cell = tr.cells[0];
      cell.replaceChildren(sc.waited(wait));
      if (late) cell.append(el("span", "⚠ waiting over " + sc.waited(Math.round(limit)), "overdue-mark"));
    }
    updateTitle();
  }

  sc.on("queue", (data) => {
    queue = data;
    queueAt = Date.now();
    const ids = new Set(data.handoffs.map((h) => h.id));
    if (known !== null) {
      const fresh = data.handoffs.filter((h) => !known.has(h.id) && h.state === "queued").length;
      if (fresh) {
        unseen += fresh;
        if (sound.checked) beep();
      }
    }
    known = ids;
    markQueue();
  });

  function seen() {
    if (!unseen) return;
    unseen = 0;
    updateTitle();
  }

  // -- the socket --------------------------------------------------------------------------------
  function connect() {
    if (socket) return;
    if (typeof window.io !== "function") { setStatus("live updates unavailable — " + RECONNECTING); return; }
    setStatus("connecting…");
    socket = window.io("/staff", { path: "/console/socket.io", reconnectionDelayMax: 5000 });
    socket.on("connect", () => {
      sc.polling = false;
      setStatus("live", true);
      sc.refreshQueue();      // what changed while we were not connected
      sc.pollConversation();
    });
    socket.on("disconnect", () => { sc.polling = true; setStatus(RECONNECTING); });
    socket.on("connect_error", (err) => {
      sc.polling = true;
      // refused by the server (no session, wrong role, another origin): socket.io does not retry those
      const why = err && err.data && err.data.error;
      setStatus(why ? "not live (" + why + ") — refreshing every few s" : RECONNECTING);
    });
    socket.on("handoff", (event) => {
      sc.refreshQueue();
      if (event.handoff.id === sc.current) sc.showState(event.handoff);
    });
    socket.on("message", (event) => {
      if (event.handoff_id !== sc.current) return;
      if (event.message.role === "customer") hideTyping();
      sc.appendMessages([event.message]);
    });
    socket.on("typing", (event) => { if (event.handoff_id === sc.current) showTyping(); });
  }

  function disconnect() {
    if (socket) socket.disconnect();
    socket = null;
    sc.polling = true;
    known = null; unseen = 0; overdue = 0; queue = null;
    setStatus("");
    updateTitle();
  }

  sc.on("login", connect);
  sc.on("logout", disconnect);

  document.addEventListener("DOMContentLoaded", () => {
    $("header").insertBefore(soundLabel, $("#whoami"));
    $("header").insertBefore(status, soundLabel);
    $("#transcript").after(typing);
    sound.addEventListener("change", () => {
      localStorage.setItem(SOUND_KEY, sound.checked ? "on" : "off");
      if (sound.checked) beep();  // a click lets the page play sound, and says how it sounds
    });
    document.addEventListener("pointerdown", seen);
    document.addEventListener("keydown", seen);
    window.addEventListener("focus", seen);
    setInterval(markQueue, 5000);
    // live, the queue is still fetched now and then: it keeps this agent "online" (the server counts
    // agents seen within SUPPORTBOT_AGENT_ONLINE_SECONDS) and the agents-online count fresh
    setInterval(() => { if (!sc.polling) sc.refreshQueue(); }, 20000);
  });
})();
