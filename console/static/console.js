// The console's only script: the live page refreshes its tables every few seconds from
// /console/api/live. Customer and agent text is set with textContent, never as HTML.
"use strict";
(function () {
  var waiting = document.getElementById("waiting");
  if (!waiting) return;
  var agents = document.getElementById("agents");
  var status = document.getElementById("live-status");

  function duration(s) {
    if (s < 60) return Math.round(s) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function cell(row, text, href) {
    var td = document.createElement("td");
    if (href) {
      var a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }
  function show(data) {
    var rows = data.waiting.map(function (w) {
      var tr = document.createElement("tr");
      cell(tr, w.ref.slice(0, 8), "/console/conversations/" + encodeURIComponent(w.ref));
      cell(tr, w.queue);
      cell(tr, w.trigger);
      cell(tr, duration(w.waiting_s));
      return tr;
    });
    waiting.replaceChildren.apply(waiting, rows);
    var byAgent = Object.keys(data.by_agent).map(function (name) {
      var tr = document.createElement("tr");
      cell(tr, name);
      cell(tr, String(data.by_agent[name]));
      return tr;
    });
    agents.replaceChildren.apply(agents, byAgent);
    document.getElementById("waiting-count").textContent = String(data.waiting.length);
    document.getElementById("claimed-count").textContent = String(data.claimed.length);
    status.textContent = "Updated " + new Date(data.at * 1000).toISOString().slice(0, 16).replace("T", " ") + ".";
  }
  function poll() {
    fetch("/console/api/live", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/console/login"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data) show(data); })
      .catch(function () { status.textContent = "Not updated: the gateway did not answer."; })
      .finally(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 3000);
})();
