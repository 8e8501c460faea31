// Rogatory portal: small scripts of our own (no third-party code). Each enhances a page that
// works without it: language switch on change, live deadline countdowns, the live timeline
// (Server-Sent Events), inline form validation, and evidence upload with a progress bar.
"use strict";

function csrfToken() { return document.body.dataset.csrf || ""; }

function autosubmit() {
  // A choice made with the pointer applies at once. With the keyboard, the arrow keys only move
  // through the options (reloading the page at each key press would change the context on
  // input, WCAG 3.2.2); Enter, or the form's own button, applies the choice.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var byKeys = false;
    select.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); select.form.submit(); return; }
      byKeys = true;
    });
    select.addEventListener("pointerdown", function () { byKeys = false; });
    select.addEventListener("change", function () { if (!byKeys) { select.form.submit(); } });
  });
}

function formatRemaining(ms) {
  var seconds = Math.floor(Math.abs(ms) / 1000);
  var days = Math.floor(seconds / 86400), rest = seconds % 86400;
  var hours = Math.floor(rest / 3600), minutes = Math.floor((rest % 3600) / 60);
  var pad = function (n) { return (n < 10 ? "0" : "") + n; };
  return days ? days + "d " + pad(hours) + "h " + pad(minutes) + "m" : hours + "h " + pad(minutes) + "m";
}

function tickCountdowns() {
  var now = Date.now();
  document.querySelectorAll(".countdown[data-due]").forEach(function (el) {
    var left = Date.parse(el.dataset.due) - now;
    var pattern = left < 0 ? el.dataset.overdue : el.dataset.left;
    el.textContent = pattern.replace("{time}", formatRemaining(left));
    el.classList.toggle("overdue", left < 0);
  });
}

function liveTimeline() {
  var list = document.getElementById("timeline");
  if (!list || !window.EventSource) { return; }
  var names = JSON.parse(list.dataset.events || "{}");
  var states = JSON.parse(list.dataset.states || "{}");
  var last = parseInt(list.dataset.last || "0", 10);
  var source = new EventSource(list.dataset.stream);
  source.addEventListener("timeline", function (message) {
    var event = JSON.parse(message.data);
    if (event.id <= last) { return; }
    last = event.id;
    var item = document.createElement("li");
    item.dataset.id = String(event.id);
    item.className = "fresh";
    var what = document.createElement("span");
    what.className = "what";
    what.textContent = names[event.verb] || event.verb;
    item.appendChild(what);
    if (event.to_state) {
      var to = document.createElement("span");
      to.className = "to";
      to.textContent = " → " + (states[event.to_state] || event.to_state);
      item.appendChild(to);
    }
    var meta = document.createElement("div");
    meta.className = "meta";
    var at = new Date(event.at);
    meta.textContent = at.toLocaleString(document.body.dataset.lang || undefined,
      { timeZone: document.body.dataset.tz || "UTC", dateStyle: "medium", timeStyle: "medium" }) +
      " · " + (event.actor || "") + (event.authority ? ", " + event.authority : "");
    meta.title = event.at;
    item.appendChild(meta);
    if (event.reason) {
      var reason = document.createElement("div");
      reason.className = "reason";
      reason.textContent = event.reason;
      item.appendChild(reason);
    }
    list.appendChild(item);
    var state = document.getElementById("state");
    if (state && event.to_state && states[event.to_state]) {
      if (state.textContent !== states[event.to_state]) {
        state.textContent = states[event.to_state];
        var notice = document.getElementById("live-notice");
        if (notice) {
          notice.querySelector("span").textContent =
            list.dataset.changed.replace("{what}", what.textContent);
          notice.hidden = false;
        }
      }
    }
  });
}

function inlineValidation() {
  document.querySelectorAll("form[data-validate]").forEach(function (form) {
    var check = function (input) {
      var field = input.closest(".field");
      if (!field || !input.hasAttribute("data-required")) { return true; }
      var error = field.querySelector(".error");
      var empty = !input.value || !input.value.trim();
      if (empty && form.dataset.submitting === "review") {
        error.textContent = error.dataset.requiredMessage;
        error.hidden = false;
        field.classList.add("invalid");
        input.setAttribute("aria-invalid", "true");
        return false;
      }
      if (!empty && field.classList.contains("invalid") && error.textContent === error.dataset.requiredMessage) {
        error.hidden = true;
        field.classList.remove("invalid");
        input.removeAttribute("aria-invalid");
      }
      return true;
    };
    form.querySelectorAll("[data-required]").forEach(function (input) {
      input.addEventListener("blur", function () { check(input); });
      input.addEventListener("input", function () { check(input); });
    });
    form.querySelectorAll("button[name=then]").forEach(function (button) {
      button.addEventListener("click", function () { form.dataset.submitting = button.value; });
    });
    form.addEventListener("submit", function (event) {
      if (form.dataset.submitting !== "review") { return; }  // a draft may be incomplete
      var first = null;
      form.querySelectorAll("[data-required]").forEach(function (input) {
        if (!check(input) && !first) { first = input; }
      });
      if (first) { event.preventDefault(); first.focus(); }
    });
  });
}

function upload() {
  var form = document.getElementById("upload");
  if (!form) { return; }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) { return; }
    var progress = document.getElementById("upload-progress");
    var result = document.getElementById("upload-result");
    var params = new URLSearchParams({
      original_name: file.name,
      examiner: form.querySelector("[name=examiner]").value,
      acquired_at: new Date(file.lastModified || Date.now()).toISOString(),
      tool: "Rogatory portal upload", tool_version: form.dataset.toolVersion || "unknown",
      method: "upload"
    });
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.endpoint + "?" + params.toString());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    progress.hidden = false;
    progress.value = 0;
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) { progress.value = Math.round(100 * e.loaded / e.total); }
    });
    xhr.addEventListener("load", function () {
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = {}; }
      result.textContent = "";
      if (xhr.status === 201) {
        progress.value = 100;
        var link = document.createElement("a");
        link.href = "/evidence/" + body.id;
        link.textContent = body.exhibit_number + " — " + body.display_name;
        result.appendChild(link);
        [["SHA-256", body.sha256], ["BLAKE3", body.blake3]].forEach(function (pair) {
          if (!pair[1]) { return; }
          var line = document.createElement("div");
          line.innerHTML = "";
          line.appendChild(document.createTextNode(pair[0] + ": "));
          var code = document.createElement("code");
          code.className = "hash";
          code.textContent = pair[1];
          line.appendChild(code);
          result.appendChild(line);
        });
      } else {
        var message = body.message || ("HTTP " + xhr.status);
        if (body.errors) { message += ": " + body.errors.map(function (e) { return e.field + " — " + e.message; }).join("; "); }
        result.textContent = message;
      }
    });
    xhr.send(file);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  autosubmit();
  tickCountdowns();
  window.setInterval(tickCountdowns, 30000);
  liveTimeline();
  inlineValidation();
  upload();
});
