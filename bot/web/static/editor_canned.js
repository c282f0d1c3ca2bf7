// The editor's "Canned replies" tab (issue 19): editors and admins add, edit and delete the replies
// agents insert in the console with "/" + name; agents see them read-only. Uses editor.js's api() and
// el(); every name and text is inserted with textContent.
"use strict";

let cannedReplies = [];

async function loadCanned() {
  $("#canned-error").textContent = "";
  let d;
  try { d = await api("/canned"); } catch (e) { $("#canned-error").textContent = e.message; return; }
  cannedReplies = d.canned;
  $("#canned-form").hidden = !d.can_edit;
  $("#canned-readonly").hidden = d.can_edit;
  const body = $("#canned-table tbody");
  body.replaceChildren();
  for (const c of cannedReplies) {
    const tr = el("tr");
    tr.dataset.name = c.name;
    tr.append(el("td", "/" + c.name), el("td", c.text, "canned-text"), el("td", c.updated_by));
    const td = el("td");
    if (d.can_edit) {
      const edit = el("button", "Edit");
      edit.type = "button";
      edit.setAttribute("aria-label", "Edit /" + c.name);
      edit.addEventListener("click", () => editCanned(c));
      const del = el("button", "Delete");
      del.type = "button";
      del.setAttribute("aria-label", "Delete /" + c.name);
      del.addEventListener("click", () => deleteCanned(c));
      td.append(edit, del);
    }
    tr.append(td);
    body.append(tr);
  }
  $("#canned-empty").hidden = cannedReplies.length > 0;
}

function editCanned(c) {
  const f = $("#canned-form").elements;
  f.id.value = c.id; f.name.value = c.name; f.text.value = c.text;
  $("#canned-save").textContent = "Save /" + c.name;
  $("#canned-cancel").hidden = false;
  f.text.focus();
}

function resetCannedForm() {
  $("#canned-form").reset();
  $("#canned-form").elements.id.value = "";
  $("#canned-save").textContent = "Add canned reply";
  $("#canned-cancel").hidden = true;
}

async function saveCanned(ev) {
  ev.preventDefault();
  const f = ev.target.elements;
  const body = JSON.stringify({ name: f.name.value, text: f.text.value });
  $("#canned-error").textContent = "";
  try {
    if (f.id.value) await api("/canned/" + f.id.value, { method: "PUT", body });
    else await api("/canned", { method: "POST", body });
    resetCannedForm();  // kept as typed on any error: nothing is lost
    await loadCanned();
  } catch (e) { $("#canned-error").textContent = e.message; }
}

async function deleteCanned(c) {
  if (!window.confirm("Delete the canned reply /" + c.name + "?")) return;
  $("#canned-error").textContent = "";
  try { await api("/canned/" + c.id, { method: "DELETE" }); await loadCanned(); }
  catch (e) { $("#canned-error").textContent = e.message; }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#canned-form").addEventListener("submit", saveCanned);
  $("#canned-cancel").addEventListener("click", resetCannedForm);
});
