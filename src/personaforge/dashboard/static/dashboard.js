// personaforge dashboard: the live view. No framework and no build step.
// The server sends Server-Sent Events (see dashboard/live.py) with new metrics records and a
// summary it has already formatted; this script writes them into the page and reloads the
// chart (an SVG drawn by the server) at most every two seconds.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root || !window.EventSource) return;

  var MAX_ROWS = 12;
  var CHART_EVERY_MS = 2000;
  var chart = document.getElementById("live-chart");
  var rows = document.getElementById("records");
  var state = { count: 0, chartUrl: null, loading: false, wanted: false, lastDraw: 0 };

  function text(id, value) {
    var element = document.getElementById(id);
    if (element) element.textContent = value;
  }

  function number(value, digits) {
    return typeof value === "number" ? Number(value.toPrecision(digits)).toString() : "";
  }

  function drawChart() {
    if (!chart || !state.chartUrl || state.count === 0) return; // nothing to draw yet
    var wait = state.lastDraw + CHART_EVERY_MS - Date.now();
    if (state.loading || wait > 0) {
      if (!state.wanted) {
        state.wanted = true;
        setTimeout(function () { state.wanted = false; drawChart(); }, Math.max(wait, 250));
      }
      return;
    }
    state.loading = true;
    chart.hidden = false;
    chart.src = state.chartUrl + "?n=" + state.count;
  }

  function chartDone() {
    state.loading = false;
    state.lastDraw = Date.now();
  }
  if (chart) {
    chart.addEventListener("load", chartDone);
    chart.addEventListener("error", chartDone);
  }

  function reset(run) {
    state.count = 0;
    state.chartUrl = run ? run.chart : null;
    rows.textContent = "";
    text("record-count", "0");
    text("step", "0");
    text("max-steps", "0");
    document.getElementById("progress").value = 0;
    document.querySelectorAll("dd[id^='f-']").forEach(function (dd) { dd.textContent = "-"; });
    if (chart) chart.hidden = true;
  }

  function addRows(records) {
    records.forEach(function (r) {
      if (r.loss === undefined && r.eval_loss === undefined) return;
      var tr = document.createElement("tr");
      [String(r.step), number(r.loss, 5), number(r.eval_loss, 5), number(r.learning_rate, 3),
        typeof r.tokens_per_second === "number" ? Math.round(r.tokens_per_second).toString() : ""]
        .forEach(function (value) {
          var td = document.createElement("td");
          td.textContent = value;
          tr.appendChild(td);
        });
      rows.insertBefore(tr, rows.firstChild);
    });
    while (rows.children.length > MAX_ROWS) rows.removeChild(rows.lastChild);
  }

  var source = new EventSource(root.dataset.events);

  source.addEventListener("run", function (e) {
    var run = JSON.parse(e.data);
    reset(run);
    text("live-title", run.title);
    text("live-status", "waiting for records");
  });

  source.addEventListener("idle", function (e) {
    reset(null);
    text("live-status", JSON.parse(e.data).message);
  });

  source.addEventListener("records", function (e) {
    var data = JSON.parse(e.data);
    var summary = data.summary;
    state.count = summary.records;
    text("record-count", String(summary.records));
    text("step", String(summary.step));
    text("max-steps", String(summary.max_steps));
    var progress = document.getElementById("progress");
    progress.max = Math.max(summary.max_steps, 1);
    progress.value = summary.step;
    Object.keys(summary.text).forEach(function (key) { text("f-" + key, summary.text[key]); });
    addRows(data.records);
    drawChart();
  });

  source.addEventListener("status", function (e) {
    var status = JSON.parse(e.data);
    var badge = document.getElementById("live-status");
    badge.textContent = status.status;
    badge.className = "badge " + status.status;
    var version = document.getElementById("live-version");
    version.textContent = "";
    if (status.version) {
      var link = document.createElement("a");
      link.href = "/versions/" + encodeURIComponent(status.version);
      link.textContent = "→ " + status.version;
      version.appendChild(link);
    }
    if (status.final) source.close(); // a version's log never grows: no need to reconnect
    drawChart();
  });

  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CONNECTING) text("live-status", "reconnecting");
  });
})();
