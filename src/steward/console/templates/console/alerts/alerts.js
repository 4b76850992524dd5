/*
 * Steward alerts pages ({{ version }}): small, progressive, no dependencies.
 *
 *  - [data-bulk] forms: "select all" and the selected count for bulk acknowledge;
 *  - [data-alerts-live]: the alerts table refreshes itself every data-refresh seconds
 *    (paused while the tab is hidden, while rows are selected or a field has focus);
 *    the page works the same without this script (a "Refresh now" link);
 *  - [data-alert-charts]: the metric around an alert, for a fixed time range (start, end,
 *    step from the server), fetched from the Prometheus-compatible API and drawn with
 *    window.StewardCharts.draw (charts.js). A <li data-constant> is a flat line (the
 *    rule's threshold).
 */
(function () {
  "use strict";

  // -- bulk selection ---------------------------------------------------------------------

  function updateSelection(form) {
    var boxes = form.querySelectorAll('input[type="checkbox"][name="alert"]');
    var n = 0;
    Array.prototype.forEach.call(boxes, function (b) { if (b.checked) n++; });
    var label = form.querySelector("[data-selected-count]");
    if (label) {
      label.textContent = n ? n + " selected" : "Select alerts to acknowledge them together";
    }
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = n > 0 && n === boxes.length;
      all.indeterminate = n > 0 && n < boxes.length;
    }
    form.classList.toggle("has-selection", n > 0);
  }

  document.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-bulk]");
    if (!form) return;
    if (e.target.hasAttribute("data-select-all")) {
      Array.prototype.forEach.call(
        form.querySelectorAll('input[type="checkbox"][name="alert"]'),
        function (b) { b.checked = e.target.checked; });
    }
    updateSelection(form);
  });

  // -- live refresh -----------------------------------------------------------------------

  function busy(region) {
    if (region.querySelector('input[name="alert"]:checked')) return true;
    var active = document.activeElement;
    return !!(active && region.contains(active) && active.matches("input, select, textarea"));
  }

  function live(region) {
    var seconds = parseFloat(region.getAttribute("data-refresh") || "15");
    var status = document.querySelector("[data-alerts-status]");
    function tick() {
      if (document.hidden || busy(region)) return schedule();
      window.fetch(window.location.href, {
        credentials: "same-origin", headers: { "X-Steward-Fragment": "alerts" }
      }).then(function (response) {
        if (!response.ok) throw new Error(response.status + " " + response.statusText);
        return response.text();
      }).then(function (html) {
        if (!busy(region)) {
          region.innerHTML = html;
          region.setAttribute("data-refreshed", String(Date.now()));
          if (status) status.textContent = "Updated " + new Date().toLocaleTimeString() + "; refreshes every " + seconds + " s.";
        }
      }, function (err) {
        if (status) status.textContent = "Could not refresh (" + err.message + "); retrying.";
      }).then(schedule);
    }
    function schedule() { window.setTimeout(tick, seconds * 1000); }
    schedule();
  }

  // -- charts of one alert -----------------------------------------------------------------

  function legendOf(template, labels, fallback) {
    if (!template) return fallback;
    return template.replace(/\{(\w+)\}/g, function (_, k) { return labels[k] || ""; });
  }

  function alertCharts(root) {
    if (!window.StewardCharts) return;
    var api = root.getAttribute("data-api");
    var start = parseInt(root.getAttribute("data-start"), 10);
    var end = parseInt(root.getAttribute("data-end"), 10);
    var step = parseInt(root.getAttribute("data-step"), 10);
    var n = Math.floor((end - start) / step) + 1;
    var times = [];
    for (var i = 0; i < n; i++) times.push((start + i * step) * 1000);
    var rate = Math.max(4 * step, 60) + "s";
    Array.prototype.forEach.call(root.querySelectorAll("figure.chart"), function (figure) {
      var items = Array.prototype.slice.call(figure.querySelectorAll("li"));
      var jobs = items.map(function (li) {
        var constant = li.getAttribute("data-constant");
        var legend = li.getAttribute("data-legend") || "";
        if (constant !== null) {
          var flat = times.map(function () { return parseFloat(constant); });
          return Promise.resolve([{ name: legend, values: flat }]);
        }
        var expr = li.getAttribute("data-expr").split("$__rate_interval").join(rate);
        var url = api + "?" + new URLSearchParams({
          query: expr, start: String(start), end: String(end), step: String(step)
        }).toString();
        return window.fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); })
          .then(function (body) {
            if (body.status !== "success") throw new Error(body.error || "query failed");
            return body.data.result.map(function (item) {
              var values = times.map(function () { return NaN; });
              (item.values || []).forEach(function (pair) {
                var k = Math.round((pair[0] - start) / step);
                if (k >= 0 && k < n) values[k] = parseFloat(pair[1]);
              });
              return { name: legendOf(legend, item.metric || {}, expr), values: values };
            });
          });
      });
      Promise.all(jobs).then(function (parts) {
        var series = [];
        parts.forEach(function (p) { series.push.apply(series, p); });
        window.StewardCharts.draw(figure, { times: times, series: series, step: step });
        figure.setAttribute("data-chart-loaded", "true");
      }, function (err) {
        window.StewardCharts.draw(figure, { times: times, series: [], step: step });
        figure.setAttribute("data-chart-loaded", "error: " + err.message);
      });
    });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form[data-bulk]"), updateSelection);
    Array.prototype.forEach.call(document.querySelectorAll("[data-alerts-live]"), live);
    Array.prototype.forEach.call(document.querySelectorAll("[data-alert-charts]"), alertCharts);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
