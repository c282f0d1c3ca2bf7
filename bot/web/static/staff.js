// What the staff pages (console, editor, analytics) share: their JSON API client and the element
// helper. Everything is inserted with textContent, never as HTML.
//
//   const api = staffApi("/console/api", () => csrf);  // api(path, fetchOptions) -> the JSON body
//   On an error status it throws an Error with the server's message, .status and .body.
//   wireLogin(credentials => api("/login", ...), who => ...)  // the one login form (login.html)
"use strict";

function staffApi(prefix, csrfToken) {
  return async function api(path, options = {}) {
    const headers = { "Content-Type": "application/json", ...(options.headers || {}) };
    const csrf = csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf;
    const res = await fetch(prefix + path, { credentials: "same-origin", ...options, headers });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.error || res.statusText), { status: res.status, body });
    return body;
  };
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

// The login form every staff page includes: posts the name and password with ``submit``, then
// forgets the password and hands the answer to ``onLogin``; an error is shown under the form.
function wireLogin(submit, onLogin) {
  const form = document.getElementById("login"), error = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = form.elements;
    try {
      const who = await submit({ name: f.name.value, password: f.password.value });
      f.password.value = ""; error.textContent = "";
      await onLogin(who);
    } catch (err) { error.textContent = err.message; }
  });
}
