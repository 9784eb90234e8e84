// Hourglass Web UI: a little vanilla JS, no framework, no network beyond this server.
"use strict";

// Builds a string from a template: %name% is the raw text of the form field `name` (a JSON
// fragment, sent as typed so the server judges it), %name:s% the field as a JSON string,
// %name:u% the field percent-encoded for a URL.
function fillTemplate(template, form) {
  return template.replace(/%([A-Za-z_]+)(?::([su]))?%/g, function (_, name, how) {
    if (name === "uuid") return newId();
    var el = form.elements[name];
    var v = el ? el.value : "";
    if (how === "s") return JSON.stringify(v);
    if (how === "u") return encodeURIComponent(v);
    return v.trim();
  });
}

function newId() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return "ui-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

// Shows `text` in the form's message element; `ok` is true, false, or "pending" while the
// request is in flight.
function showMessage(form, text, ok) {
  var el = form.querySelector(".field-msg");
  if (!el) return;
  el.textContent = text;
  el.className = "field-msg " + (ok === "pending" ? "pending muted" : ok ? "ok" : "error");
}

// The server's message from an error answer: Temporal's error JSON {code, message, details}.
function errorText(status, body) {
  try {
    var j = JSON.parse(body);
    if (j && j.message) return j.message;
  } catch (e) { /* not JSON: the text itself */ }
  return body ? body : "HTTP " + status;
}

async function submitApiForm(ev) {
  var form = ev.target;
  if (!form.dataset.api) return;
  ev.preventDefault();
  if (form.dataset.confirm && !window.confirm(fillTemplate(form.dataset.confirm, form))) return;
  var url = fillTemplate(form.dataset.api, form);
  var body = form.dataset.body ? fillTemplate(form.dataset.body, form) : "{}";
  showMessage(form, "…", "pending");
  var res, text;
  try {
    res = await fetch(url, {
      method: form.dataset.method || "POST",
      headers: { "content-type": "application/json" },
      body: body,
    });
    text = await res.text();
  } catch (e) {
    showMessage(form, "request failed: " + e, false);
    return;
  }
  if (!res.ok) {
    showMessage(form, errorText(res.status, text), false);
    return;
  }
  var shown = "done";
  var ok = true;
  try {
    var j = JSON.parse(text);
    var pick = form.dataset.show;
    var v = pick ? pick.split(".").reduce(function (o, k) { return o == null ? o : o[k]; }, j) : null;
    if (v && v.failure) {
      // An update's outcome can be a failure the workflow answered.
      ok = false;
      shown = v.failure.message || JSON.stringify(v.failure, null, 2);
    } else {
      if (v && v.success !== undefined) v = v.success;
      // Payloads in shorthand: one value is shown as itself.
      if (Array.isArray(v) && v.length === 1) v = v[0];
      shown = v == null ? "done" : JSON.stringify(v, null, 2);
    }
  } catch (e) { /* empty body */ }
  showMessage(form, shown, ok);
  if (form.dataset.reload) setTimeout(function () { window.location.reload(); }, 600);
}

async function loadMore(btn) {
  var res = await fetch(btn.dataset.more);
  var html = await res.text();
  var target = document.getElementById(btn.dataset.target);
  if (!res.ok) { btn.insertAdjacentText("afterend", " " + html); return; }
  target.insertAdjacentHTML("beforeend", html);
  var marker = target.querySelector("tr[data-next]");
  if (marker) {
    var next = marker.dataset.next;
    marker.remove();
    if (next) btn.dataset.more = next; else btn.remove();
  } else {
    btn.remove();
  }
}

function autoRefresh() {
  var box = document.getElementById("auto-refresh");
  if (!box) return;
  var key = "hourglass.autorefresh." + location.pathname;
  box.checked = localStorage.getItem(key) === "1";
  var timer = null;
  function arm() {
    if (timer) clearTimeout(timer);
    timer = box.checked ? setTimeout(function () { location.reload(); }, 1000 * (+box.dataset.seconds || 5)) : null;
  }
  box.addEventListener("change", function () { localStorage.setItem(key, box.checked ? "1" : "0"); arm(); });
  arm();
}

// Elements with data-sse: their content is replaced by each server-sent event's HTML.
function liveRegions() {
  document.querySelectorAll("[data-sse]").forEach(function (el) {
    var src = new EventSource(el.dataset.sse);
    var status = document.getElementById(el.dataset.sseStatus || "");
    src.onopen = function () { if (status) { status.textContent = "live"; status.className = "badge live"; } };
    src.onerror = function () { if (status) { status.textContent = "reconnecting…"; status.className = "badge"; } };
    src.onmessage = function (m) {
      el.innerHTML = m.data;
      el.dataset.updates = String((+el.dataset.updates || 0) + 1);
    };
  });
}

document.addEventListener("submit", submitApiForm);
document.addEventListener("click", function (ev) {
  var t = ev.target;
  if (t && t.dataset && t.dataset.more) { ev.preventDefault(); loadMore(t); }
});
document.addEventListener("DOMContentLoaded", function () { autoRefresh(); liveRegions(); });
