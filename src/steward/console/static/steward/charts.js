/*
 * Steward charts: time-series charts in SVG, from the Prometheus-compatible query API.
 * No dependencies, no build step, no inline scripts or styles (colours come from classes
 * in charts.css, so light and dark themes switch without a redraw).
 *
 * MARKUP (the server builds the queries; this file never writes PromQL of its own)
 *
 *   <section data-charts data-api="/prometheus/api/v1/query_range" data-interval="10">
 *     <div role="group" aria-label="Time range">
 *       <button type="button" data-range="1h" aria-pressed="true">1 h</button> ...
 *     </div>
 *     <p data-charts-empty hidden>No data yet ...</p>
 *     <figure class="chart" data-unit="percent" data-max="100" data-stack>
 *       <figcaption>CPU</figcaption>
 *       <ul class="chart-queries" hidden>
 *         <li data-expr="rate(x{a=&quot;b&quot;}[$__rate_interval])" data-legend="{mode}"
 *             data-role="line|lower|upper|marker" data-order="user,system"></li>
 *       </ul>
 *     </figure>
 *   </section>
 *
 *   data-unit       bytes (IEC), bytes/s, bits/s (SI), percent, seconds, plain (SI)
 *   data-max/min    fixed axis limits (percent charts: 0..100)
 *   data-stack      stack the line series as areas (CPU by mode)
 *   data-reference  legend of a series drawn as a thin reference line (core count)
 *   $__rate_interval   replaced by a rate window that suits the range and its step
 *   data-legend     "{label}" placeholders filled from each result series' labels
 *   data-role       lower/upper: an expected band (shaded), marker: points (anomalies)
 *
 * BEHAVIOUR
 *   Range buttons 1 h .. 30 d (step chosen for ~300 points; the store picks the rollup
 *   tier); the choice is remembered. Refresh every 15 s (30 s for long ranges), paused
 *   while the tab is hidden. Hover or arrow keys: crosshair and a tooltip with every
 *   series' value at that time. Legend buttons hide/show a series. Each chart is an
 *   image for assistive technology (role=img with a summary) and offers a data table.
 *
 * window.StewardCharts exposes the formatting helpers and draw(figure, data) for pages
 * that bring their own data.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var RANGES = { "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800, "30d": 2592000 };
  var RANGE_NAMES = {
    "1h": "the last hour", "6h": "the last 6 hours", "24h": "the last 24 hours",
    "7d": "the last 7 days", "30d": "the last 30 days"
  };
  var TARGET_POINTS = 300;
  var STEPS = [10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
    43200, 86400];
  var TIME_TICKS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
    172800, 604800];
  var PALETTE_SIZE = 8;
  var DASHES = 6;
  var RAW_DAYS = 7; // raw samples are kept this long; beyond, minute rollups (60 s)
  var STORE_KEY = "steward-chart-range";
  var MARGIN = { top: 10, right: 14, bottom: 24 };

  // -- units ----------------------------------------------------------------------------

  var UNITS = {
    bytes: { base: 1024, names: ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], sep: " " },
    "bytes/s": { base: 1024, names: ["B/s", "KiB/s", "MiB/s", "GiB/s", "TiB/s"], sep: " " },
    "bits/s": { base: 1000, names: ["b/s", "kb/s", "Mb/s", "Gb/s", "Tb/s"], sep: " " },
    plain: { base: 1000, names: ["", "k", "M", "G", "T", "P"], sep: "" }
  };

  /** The divisor and suffix that suit values up to maxAbs in this unit. */
  function scaleFor(unit, maxAbs) {
    if (unit === "percent") return { div: 1, suffix: "%", sep: "" };
    if (unit === "seconds") {
      if (maxAbs >= 7200) return { div: 3600, suffix: "h", sep: " " };
      if (maxAbs >= 120) return { div: 60, suffix: "min", sep: " " };
      if (maxAbs >= 1 || maxAbs === 0) return { div: 1, suffix: "s", sep: " " };
      if (maxAbs >= 1e-3) return { div: 1e-3, suffix: "ms", sep: " " };
      return { div: 1e-6, suffix: "µs", sep: " " };
    }
    var spec = UNITS[unit] || UNITS.plain;
    var i = 0;
    var div = 1;
    while (maxAbs / div >= spec.base && i < spec.names.length - 1) {
      div *= spec.base;
      i++;
    }
    return { div: div, suffix: spec.names[i], sep: spec.names[i] ? spec.sep : "" };
  }

  function trimZeros(text) {
    return text.indexOf(".") >= 0 ? text.replace(/\.?0+$/, "") : text;
  }

  /** A value as people read it: 3 significant digits and the unit that suits it. */
  function formatValue(unit, value) {
    if (value === null || value === undefined || isNaN(value)) return "–";
    if (!isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
    var scale = scaleFor(unit, Math.abs(value));
    var v = value / scale.div;
    var a = Math.abs(v);
    var digits = a === 0 || a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3;
    if (unit === "bytes" && scale.div === 1) digits = 0;
    return trimZeros(v.toFixed(digits)) + scale.sep + scale.suffix;
  }

  function formatTick(scale, value, decimals) {
    return trimZeros((value / scale.div).toFixed(decimals)) + scale.sep + scale.suffix;
  }

  /** Round axis ticks from min to max (in the unit scaled by `scale`). */
  function niceTicks(min, max, count, scale) {
    var lo = min / scale.div;
    var hi = max / scale.div;
    if (hi <= lo) hi = lo + 1;
    var raw = (hi - lo) / Math.max(count, 1);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = mag;
    [1, 2, 2.5, 5, 10].some(function (m) {
      step = m * mag;
      return step >= raw;
    });
    var first = Math.floor(lo / step) * step;
    var last = Math.ceil(hi / step - 1e-9) * step;
    var ticks = [];
    for (var v = first; v <= last + step / 2; v += step) ticks.push(v * scale.div);
    var decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    if (step === 2.5 * mag) decimals += 1;
    return { ticks: ticks, decimals: decimals };
  }

  // -- time -----------------------------------------------------------------------------

  function chooseStep(rangeS, interval) {
    var want = rangeS / TARGET_POINTS;
    var best = STEPS[0];
    STEPS.forEach(function (s) {
      if (Math.abs(Math.log(s / want)) < Math.abs(Math.log(best / want))) best = s;
    });
    return Math.max(best, interval);
  }

  /** A rate() window: at least 4 samples of the tier the store reads, and 2 steps. */
  function rateWindow(rangeS, step, interval) {
    var resolution = rangeS > RAW_DAYS * 86400 ? 60 : interval;
    return Math.max(2 * step, 4 * resolution, 60);
  }

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  var DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
    "Dec"];

  function hhmm(d) {
    return pad(d.getHours()) + ":" + pad(d.getMinutes());
  }

  function dayMonth(d) {
    return d.getDate() + " " + MONTHS[d.getMonth()];
  }

  function formatTime(ms, withSeconds) {
    var d = new Date(ms);
    return DAY_NAMES[d.getDay()] + " " + dayMonth(d) + ", " + hhmm(d) +
      (withSeconds ? ":" + pad(d.getSeconds()) : "");
  }

  /** Tick times (ms) on local-time boundaries, about one per `minPx` pixels. */
  function timeTicks(startMs, endMs, width, minPx) {
    var span = (endMs - startMs) / 1000;
    var max = Math.max(2, Math.floor(width / minPx));
    var step = TIME_TICKS[TIME_TICKS.length - 1];
    for (var i = 0; i < TIME_TICKS.length; i++) {
      if (span / TIME_TICKS[i] <= max) {
        step = TIME_TICKS[i];
        break;
      }
    }
    var ticks = [];
    if (step >= 86400) {
      var d = new Date(startMs);
      d.setHours(0, 0, 0, 0);
      var days = step / 86400;
      while (d.getTime() <= endMs) {
        if (d.getTime() >= startMs) ticks.push({ t: d.getTime(), label: dayMonth(d) });
        d.setDate(d.getDate() + days);
      }
      return ticks;
    }
    var offset = -new Date(startMs).getTimezoneOffset() * 60000;
    var stepMs = step * 1000;
    var t = Math.ceil((startMs + offset) / stepMs) * stepMs - offset;
    for (; t <= endMs; t += stepMs) {
      var when = new Date(t);
      var midnight = when.getHours() === 0 && when.getMinutes() === 0;
      ticks.push({ t: t, label: midnight ? dayMonth(when) : hhmm(when), strong: midnight });
    }
    return ticks;
  }

  // -- svg helpers ------------------------------------------------------------------------

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) {
      if (Object.prototype.hasOwnProperty.call(attrs, k)) node.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, className, parent, text) {
    var node = document.createElement(name);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  /** Path data for a line, broken where a value is missing. */
  function linePath(xs, ys) {
    var d = "";
    var pen = false;
    for (var i = 0; i < xs.length; i++) {
      if (ys[i] === null || isNaN(ys[i])) {
        pen = false;
        continue;
      }
      d += (pen ? "L" : "M") + xs[i].toFixed(1) + "," + ys[i].toFixed(1);
      pen = true;
    }
    return d;
  }

  /** Path data for the area between `upper` and `lower`, one closed shape per run. */
  function areaPath(xs, upper, lower) {
    var d = "";
    var run = [];
    function flush() {
      if (run.length > 0) {
        var top = run.map(function (i) { return xs[i].toFixed(1) + "," + upper[i].toFixed(1); });
        var bottom = run.slice().reverse().map(function (i) {
          return xs[i].toFixed(1) + "," + lower[i].toFixed(1);
        });
        d += "M" + top.join("L") + "L" + bottom.join("L") + "Z";
      }
      run = [];
    }
    for (var i = 0; i < xs.length; i++) {
      if (upper[i] === null || lower[i] === null || isNaN(upper[i]) || isNaN(lower[i])) flush();
      else run.push(i);
    }
    flush();
    return d;
  }

  // -- data -----------------------------------------------------------------------------

  function legendOf(template, labels, fallback) {
    if (template) {
      return template.replace(/\{(\w+)\}/g, function (_, name) {
        return labels[name] !== undefined ? labels[name] : "";
      });
    }
    var parts = [];
    Object.keys(labels).sort().forEach(function (k) {
      if (k === "__name__" || k === "job" || k === "instance" || k.indexOf("steward_") === 0) {
        return;
      }
      parts.push(k + "=" + labels[k]);
    });
    return parts.length ? parts.join(", ") : labels.__name__ || fallback;
  }

  /** Align query results on the step grid: one Float64Array per series, NaN where missing. */
  function alignSeries(defs, results, startS, endS, step) {
    var n = Math.floor((endS - startS) / step) + 1;
    var times = new Array(n);
    for (var i = 0; i < n; i++) times[i] = (startS + i * step) * 1000;
    var series = [];
    defs.forEach(function (def, q) {
      var items = (results[q] || []).map(function (item) {
        var values = new Float64Array(n).fill(NaN);
        item.values.forEach(function (pair) {
          var k = Math.round((pair[0] - startS) / step);
          if (k >= 0 && k < n) values[k] = parseFloat(pair[1]);
        });
        return {
          name: legendOf(def.legend, item.metric, def.expr),
          role: def.role || "line",
          values: values
        };
      });
      var order = def.order ? def.order.split(",") : null;
      items.sort(function (a, b) {
        if (order) {
          var ia = order.indexOf(a.name);
          var ib = order.indexOf(b.name);
          if (ia !== ib) return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
        }
        return a.name.localeCompare(b.name, undefined, { numeric: true });
      });
      series.push.apply(series, items);
    });
    return { times: times, series: series };
  }

  // -- one chart ------------------------------------------------------------------------

  var chartCount = 0;

  function Chart(figure) {
    this.figure = figure;
    this.id = "chart-" + (++chartCount);
    this.unit = figure.getAttribute("data-unit") || "plain";
    this.stack = figure.hasAttribute("data-stack");
    this.fixedMax = parseFloat(figure.getAttribute("data-max"));
    this.fixedMin = parseFloat(figure.getAttribute("data-min"));
    this.reference = figure.getAttribute("data-reference") || "";
    this.height = parseInt(figure.getAttribute("data-height") || "180", 10);
    var caption = figure.querySelector("figcaption");
    this.title = caption ? caption.textContent.trim() : "Chart";
    this.defs = Array.prototype.map.call(figure.querySelectorAll("[data-expr]"), function (li) {
      return {
        expr: li.getAttribute("data-expr"),
        legend: li.getAttribute("data-legend") || "",
        role: li.getAttribute("data-role") || "line",
        order: li.getAttribute("data-order") || ""
      };
    });
    this.hidden = {};
    this.data = null;
    this.hover = -1;
    this.build();
  }

  Chart.prototype.build = function () {
    var fig = this.figure;
    fig.classList.add("chart-ready");
    var head = html("div", "chart-head");
    var caption = fig.querySelector("figcaption");
    if (caption) head.appendChild(caption);
    this.legend = html("div", "chart-legend", head);
    this.legend.setAttribute("role", "group");
    this.legend.setAttribute("aria-label", this.title + " series (select to hide or show)");
    fig.insertBefore(head, fig.firstChild);
    this.plot = html("div", "chart-plot", fig);
    this.plot.style.height = this.height + "px";
    this.svg = el("svg", {
      class: "chart-svg", role: "img", tabindex: "0", focusable: "true",
      "aria-label": this.title + ": loading"
    }, this.plot);
    this.tooltip = html("div", "chart-tooltip", this.plot);
    this.tooltip.id = this.id + "-tip";
    this.tooltip.setAttribute("role", "status");
    this.tooltip.hidden = true;
    this.message = html("p", "chart-message", this.plot, "Loading…");
    var foot = html("details", "chart-data", fig);
    html("summary", "", foot, "Data table");
    this.tableHost = html("div", "chart-table-host", foot);
    var self = this;
    foot.addEventListener("toggle", function () {
      if (foot.open) self.renderTable();
    });
    this.details = foot;
    this.svg.addEventListener("pointermove", function (e) { self.onPointer(e); });
    this.svg.addEventListener("pointerleave", function () { self.setHover(-1); });
    this.svg.addEventListener("blur", function () { self.setHover(-1); });
    this.svg.addEventListener("keydown", function (e) { self.onKey(e); });
  };

  Chart.prototype.setData = function (data, context) {
    this.data = data;
    this.context = context;
    this.error = null;
    this.render();
    if (this.details.open) this.renderTable();
  };

  Chart.prototype.setError = function (message) {
    this.error = message;
    this.render();
  };

  Chart.prototype.visible = function () {
    var hidden = this.hidden;
    return this.data.series.filter(function (s) { return !hidden[s.name + "|" + s.role]; });
  };

  Chart.prototype.renderLegend = function () {
    var self = this;
    this.legend.textContent = "";
    if (!this.data) return;
    this.data.series.forEach(function (s, i) {
      if (s.role === "lower" || s.role === "upper") return;
      var key = s.name + "|" + s.role;
      var button = html("button", "chart-key", self.legend);
      button.type = "button";
      button.setAttribute("aria-pressed", self.hidden[key] ? "false" : "true");
      button.title = (self.hidden[key] ? "Show " : "Hide ") + s.name;
      var swatch = el("svg", { class: "chart-swatch", "aria-hidden": "true", viewBox: "0 0 18 8" },
        button);
      el("line", { x1: 1, y1: 4, x2: 17, y2: 4, class: self.seriesClass(s, i) }, swatch);
      html("span", "", button, s.name);
      button.addEventListener("click", function () {
        self.hidden[key] = !self.hidden[key];
        self.render();
        if (self.details.open) self.renderTable();
        var again = self.legend.querySelectorAll(".chart-key")[
          Array.prototype.indexOf.call(self.legend.children, button)];
        if (again) again.focus();
      });
    });
  };

  Chart.prototype.seriesClass = function (s, i) {
    if (s.role === "marker") return "chart-line chart-marker-key";
    if (s.name === this.reference) return "chart-line chart-reference";
    var dash = this.stack ? 0 : i % DASHES;
    return "chart-line series-" + (i % PALETTE_SIZE) + " dash-" + dash;
  };

  Chart.prototype.render = function () {
    var svg = this.svg;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    this.renderLegend();
    var width = this.plot.clientWidth;
    this.width = width;
    if (!width) return;
    var height = this.height;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    if (this.error) {
      this.showMessage("Could not load this chart: " + this.error, true);
      svg.setAttribute("aria-label", this.title + ": could not load");
      return;
    }
    if (!this.data) return;
    var data = this.data;
    var has = data.series.some(function (s) {
      return Array.prototype.some.call(s.values, function (v) { return !isNaN(v); });
    });
    this.empty = !has;
    if (!has) {
      this.showMessage(this.figure.getAttribute("data-empty") || "No data in this range yet.");
    } else {
      this.showMessage("");
    }
    this.draw(width, height);
    svg.setAttribute("aria-label", this.summary());
  };

  Chart.prototype.showMessage = function (text, isError) {
    this.message.textContent = text;
    this.message.hidden = !text;
    this.message.classList.toggle("chart-error", !!isError);
  };

  Chart.prototype.draw = function (width, height) {
    var self = this;
    var data = this.data;
    var times = data.times;
    var n = times.length;
    var all = data.series;
    var shown = this.visible();
    // Stacked totals per time (only "line" series stack; bands/markers sit on top as is).
    var lines = shown.filter(function (s) { return s.role === "line"; });
    var stacked = {};
    var lo = isNaN(this.fixedMin) ? Infinity : this.fixedMin;
    var hi = isNaN(this.fixedMax) ? -Infinity : this.fixedMax;
    if (this.stack) {
      var acc = new Float64Array(n);
      lines.forEach(function (s) {
        if (s.name === self.reference) return;
        var base = Float64Array.from(acc);
        var top = new Float64Array(n);
        for (var i = 0; i < n; i++) {
          var v = s.values[i];
          top[i] = isNaN(v) ? NaN : base[i] + v;
          if (!isNaN(v)) acc[i] = top[i];
          else base[i] = NaN;
        }
        stacked[s.name] = { base: base, top: top };
      });
    }
    shown.forEach(function (s) {
      var vals = self.stack && stacked[s.name] ? stacked[s.name].top : s.values;
      for (var i = 0; i < n; i++) {
        var v = vals[i];
        if (!isNaN(v) && isFinite(v)) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
    });
    if (lo === Infinity) {
      lo = 0;
      hi = isNaN(this.fixedMax) ? 1 : this.fixedMax;
    }
    if (lo > 0) lo = 0; // rates, bytes and percentages read best from zero
    if (hi <= lo) hi = lo + (this.unit === "percent" ? 10 : 1);
    var scale = scaleFor(this.unit, Math.max(Math.abs(lo), Math.abs(hi)));
    var yt = niceTicks(lo, isNaN(this.fixedMax) ? hi * 1.05 : hi, Math.max(2, Math.floor(height / 45)),
      scale);
    var yMin = isNaN(this.fixedMin) ? Math.min(lo, yt.ticks[0]) : this.fixedMin;
    var yMax = isNaN(this.fixedMax) ? yt.ticks[yt.ticks.length - 1] : this.fixedMax;
    var labels = yt.ticks.map(function (v) { return formatTick(scale, v, yt.decimals); });
    var labelWidth = Math.max.apply(null, labels.map(function (t) { return t.length; })) * 6.6;
    var m = { top: MARGIN.top, right: MARGIN.right, bottom: MARGIN.bottom, left: labelWidth + 14 };
    var pw = Math.max(width - m.left - m.right, 10);
    var ph = Math.max(height - m.top - m.bottom, 10);
    var t0 = times[0];
    var t1 = times[n - 1];
    function x(t) { return m.left + ((t - t0) / Math.max(t1 - t0, 1)) * pw; }
    function y(v) { return m.top + ph - ((v - yMin) / Math.max(yMax - yMin, 1e-12)) * ph; }
    this.geometry = { m: m, pw: pw, ph: ph, x: x, y: y, scale: scale };

    var svg = this.svg;
    var grid = el("g", { class: "chart-grid", "aria-hidden": "true" }, svg);
    yt.ticks.forEach(function (v, i) {
      if (v < yMin - 1e-9 || v > yMax + 1e-9) return;
      var yy = Math.round(y(v)) + 0.5;
      el("line", { x1: m.left, x2: m.left + pw, y1: yy, y2: yy,
        class: v === 0 ? "chart-gridline chart-zero" : "chart-gridline" }, grid);
      var label = el("text", { x: m.left - 8, y: yy + 4, class: "chart-axis", "text-anchor": "end" },
        grid);
      label.textContent = labels[i];
    });
    timeTicks(t0, t1, pw, 88).forEach(function (tick) {
      var xx = Math.round(x(tick.t)) + 0.5;
      el("line", { x1: xx, x2: xx, y1: m.top, y2: m.top + ph,
        class: tick.strong ? "chart-gridline chart-vline chart-midnight" : "chart-gridline chart-vline" },
      grid);
      var label = el("text", { x: xx, y: m.top + ph + 16, class: "chart-axis", "text-anchor": "middle" },
        grid);
      label.textContent = tick.label;
    });

    var xs = times.map(x);
    var body = el("g", { class: "chart-body", "aria-hidden": "true" }, svg);
    // Expected band first, so everything else draws over it.
    var lower = shown.filter(function (s) { return s.role === "lower"; })[0];
    var upper = shown.filter(function (s) { return s.role === "upper"; })[0];
    if (lower && upper) {
      el("path", { class: "chart-band", d: areaPath(xs, Array.prototype.map.call(upper.values, y),
        Array.prototype.map.call(lower.values, y)) }, body);
    }
    var lineCount = lines.length;
    all.forEach(function (s, i) {
      if (self.hidden[s.name + "|" + s.role] || s.role !== "line") return;
      var cls = self.seriesClass(s, i);
      if (self.stack && stacked[s.name]) {
        var st = stacked[s.name];
        var top = Array.prototype.map.call(st.top, y);
        el("path", { class: "chart-area chart-area-stack series-" + (i % PALETTE_SIZE),
          d: areaPath(xs, top, Array.prototype.map.call(st.base, y)) }, body);
        el("path", { class: cls, d: linePath(xs, top) }, body);
        return;
      }
      var ys = Array.prototype.map.call(s.values, y);
      if (lineCount <= 3 && s.name !== self.reference) {
        var zero = xs.map(function () { return y(Math.max(yMin, 0)); });
        el("path", { class: "chart-area series-" + (i % PALETTE_SIZE),
          d: areaPath(xs, ys, zero) }, body);
      }
      el("path", { class: cls, d: linePath(xs, ys) }, body);
      // A lone point between gaps would be invisible as a path: draw it as a dot.
      for (var k = 0; k < n; k++) {
        if (!isNaN(s.values[k]) && (k === 0 || isNaN(s.values[k - 1])) &&
            (k === n - 1 || isNaN(s.values[k + 1]))) {
          el("circle", { cx: xs[k], cy: ys[k], r: 2, class: "chart-dot series-" + (i % PALETTE_SIZE) },
            body);
        }
      }
    });
    shown.forEach(function (s) {
      if (s.role !== "marker") return;
      for (var k = 0; k < n; k++) {
        if (!isNaN(s.values[k])) {
          el("circle", { cx: xs[k], cy: y(s.values[k]), r: 4, class: "chart-marker" }, body);
        }
      }
    });
    el("rect", { x: m.left, y: m.top, width: pw, height: ph, class: "chart-frame" }, svg);
    this.cross = el("g", { class: "chart-cross", "aria-hidden": "true" }, svg);
    this.cross.style.display = "none";
    this.crossLine = el("line", { y1: m.top, y2: m.top + ph, class: "chart-crossline" }, this.cross);
    this.stackedValues = stacked;
    if (this.hover >= 0) this.setHover(this.hover);
  };

  Chart.prototype.summary = function () {
    var unit = this.unit;
    var range = (this.context && RANGE_NAMES[this.context.range]) || "the selected range";
    if (this.empty) return this.title + ", " + range + ": no data.";
    var parts = this.visible().filter(function (s) { return s.role !== "lower" && s.role !== "upper"; })
      .slice(0, 8).map(function (s) {
        var last = NaN;
        var max = -Infinity;
        for (var i = 0; i < s.values.length; i++) {
          if (!isNaN(s.values[i])) {
            last = s.values[i];
            if (s.values[i] > max) max = s.values[i];
          }
        }
        if (isNaN(last)) return s.name + " no data";
        return s.name + " now " + formatValue(unit, last) + ", peak " + formatValue(unit, max);
      });
    return this.title + ", " + range + ": " + parts.join("; ") + ".";
  };

  Chart.prototype.onPointer = function (event) {
    if (!this.data || !this.geometry || this.empty) return;
    var rect = this.svg.getBoundingClientRect();
    var px = event.clientX - rect.left;
    var g = this.geometry;
    var n = this.data.times.length;
    var k = Math.round(((px - g.m.left) / g.pw) * (n - 1));
    this.setHover(Math.min(Math.max(k, 0), n - 1));
  };

  Chart.prototype.onKey = function (event) {
    if (!this.data || this.empty) return;
    var n = this.data.times.length;
    var k = this.hover < 0 ? n - 1 : this.hover;
    var jump = event.shiftKey ? 10 : 1;
    if (event.key === "ArrowLeft") k = Math.max(k - jump, 0);
    else if (event.key === "ArrowRight") k = Math.min(k + jump, n - 1);
    else if (event.key === "Home") k = 0;
    else if (event.key === "End") k = n - 1;
    else if (event.key === "Escape") k = -1;
    else return;
    event.preventDefault();
    this.setHover(k);
  };

  Chart.prototype.setHover = function (k) {
    this.hover = k;
    if (!this.cross) return;
    if (k < 0 || !this.data) {
      this.cross.style.display = "none";
      this.tooltip.hidden = true;
      return;
    }
    var self = this;
    var g = this.geometry;
    var t = this.data.times[k];
    var xx = g.x(t);
    this.cross.style.display = "";
    this.crossLine.setAttribute("x1", xx);
    this.crossLine.setAttribute("x2", xx);
    Array.prototype.slice.call(this.cross.querySelectorAll("circle")).forEach(function (c) {
      c.parentNode.removeChild(c);
    });
    var tip = this.tooltip;
    tip.textContent = "";
    html("div", "chart-tooltip-time", tip, formatTime(t, this.context && this.context.step < 60));
    var table = html("table", "", tip);
    var rows = [];
    this.data.series.forEach(function (s, i) {
      if (self.hidden[s.name + "|" + s.role]) return;
      var v = s.values[k];
      var label = s.role === "lower" ? s.name + " (expected low)"
        : s.role === "upper" ? s.name + " (expected high)"
          : s.role === "marker" ? s.name + " (anomaly)" : s.name;
      if (s.role === "marker" && isNaN(v)) return;
      rows.push({ s: s, i: i, v: v, label: label });
      if (!isNaN(v) && s.role === "line") {
        var top = self.stack && self.stackedValues[s.name] ? self.stackedValues[s.name].top[k] : v;
        el("circle", { cx: xx, cy: g.y(top), r: 3.5, class: "chart-hoverdot series-" + (i % PALETTE_SIZE) },
          self.cross);
      }
    });
    if (this.stack) rows.reverse(); // the top of the stack first, as it is drawn
    rows.forEach(function (row) {
      var tr = html("tr", "", table);
      var key = html("td", "", tr);
      var sw = el("svg", { class: "chart-swatch", "aria-hidden": "true", viewBox: "0 0 18 8" }, key);
      el("line", { x1: 1, y1: 4, x2: 17, y2: 4, class: self.seriesClass(row.s, row.i) }, sw);
      html("td", "chart-tooltip-name", tr, row.label);
      html("td", "chart-tooltip-value", tr, formatValue(self.unit, row.v));
    });
    if (this.stack && rows.length > 1) {
      var total = 0;
      rows.forEach(function (row) {
        if (!isNaN(row.v) && row.s.role === "line" && row.s.name !== self.reference) total += row.v;
      });
      var tr = html("tr", "chart-tooltip-total", table);
      html("td", "", tr);
      html("td", "chart-tooltip-name", tr, "Total");
      html("td", "chart-tooltip-value", tr, formatValue(this.unit, total));
    }
    tip.hidden = false;
    var plotWidth = this.plot.clientWidth;
    var tw = tip.offsetWidth;
    var left = xx + 14;
    if (left + tw > plotWidth - 4) left = xx - tw - 14;
    tip.style.left = Math.max(left, 4) + "px";
    tip.style.top = g.m.top + 4 + "px";
  };

  Chart.prototype.renderTable = function () {
    var host = this.tableHost;
    host.textContent = "";
    if (!this.data || this.empty) {
      html("p", "muted", host, "No data.");
      return;
    }
    var shown = this.visible();
    var table = html("table", "data chart-table", host);
    html("caption", "visually-hidden", table, this.title);
    var head = html("tr", "", html("thead", "", table));
    var th = html("th", "", head, "Time");
    th.scope = "col";
    shown.forEach(function (s) {
      var h = html("th", "num", head, s.name);
      h.scope = "col";
    });
    var body = html("tbody", "", table);
    var unit = this.unit;
    var times = this.data.times;
    for (var k = times.length - 1; k >= 0; k--) {
      var any = shown.some(function (s) { return !isNaN(s.values[k]); });
      if (!any) continue;
      var tr = html("tr", "", body);
      html("td", "mono", tr, formatTime(times[k], true));
      shown.forEach(function (s) { html("td", "num", tr, formatValue(unit, s.values[k])); });
    }
  };

  // -- a group of charts sharing one range selector --------------------------------------

  function storedRange(fallback) {
    try {
      var r = window.localStorage.getItem(STORE_KEY);
      return RANGES[r] ? r : fallback;
    } catch (e) {
      return fallback;
    }
  }

  function Group(root) {
    var self = this;
    this.root = root;
    this.api = root.getAttribute("data-api");
    this.interval = parseFloat(root.getAttribute("data-interval") || "10");
    this.emptyNote = root.querySelector("[data-charts-empty]");
    this.buttons = Array.prototype.slice.call(root.querySelectorAll("[data-range]"));
    this.charts = Array.prototype.map.call(root.querySelectorAll("figure.chart"), function (f) {
      return new Chart(f);
    });
    this.range = storedRange(root.getAttribute("data-default-range") || "1h");
    this.generation = 0;
    this.lastLoad = 0;
    this.buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        self.range = b.getAttribute("data-range");
        try {
          window.localStorage.setItem(STORE_KEY, self.range);
        } catch (e) { /* not remembered */ }
        self.load();
      });
    });
    if (window.ResizeObserver) {
      var pending = false;
      var observer = new ResizeObserver(function () {
        if (pending) return;
        pending = true;
        window.requestAnimationFrame(function () {
          pending = false;
          self.charts.forEach(function (c) {
            if (c.plot.clientWidth !== c.width) c.render();
          });
        });
      });
      this.charts.forEach(function (c) { observer.observe(c.plot); });
    }
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && Date.now() - self.lastLoad > self.refreshMs()) self.load();
    });
    this.load();
  }

  Group.prototype.refreshMs = function () {
    var attr = parseFloat(this.root.getAttribute("data-refresh") || "0");
    if (attr > 0) return attr * 1000;
    return RANGES[this.range] <= 21600 ? 15000 : 30000;
  };

  Group.prototype.schedule = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () {
      if (document.hidden) self.schedule(); // paused; visibilitychange reloads
      else self.load();
    }, this.refreshMs());
  };

  Group.prototype.load = function () {
    var self = this;
    var generation = ++this.generation;
    var range = this.range;
    var rangeS = RANGES[range];
    var step = chooseStep(rangeS, this.interval);
    var end = Math.floor(Date.now() / 1000 / step) * step + step;
    var start = end - rangeS;
    var window_ = rateWindow(rangeS, step, this.interval) + "s";
    var context = { range: range, step: step, start: start, end: end };
    this.buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-range") === range ? "true" : "false");
    });
    this.root.setAttribute("data-range-current", range);
    this.root.classList.add("charts-loading");
    if (this.controller) this.controller.abort();
    var controller = window.AbortController ? new AbortController() : null;
    this.controller = controller;
    var jobs = [];
    this.charts.forEach(function (chart) {
      chart.defs.forEach(function (def, q) {
        jobs.push({ chart: chart, q: q, expr: def.expr.split("$__rate_interval").join(window_) });
      });
    });
    var results = new Map();
    var failures = new Map();
    var next = 0;
    var running = 0;
    var done = 0;
    function fetchOne(job) {
      var url = self.api + "?" + new URLSearchParams({
        query: job.expr, start: String(start), end: String(end), step: String(step)
      }).toString();
      return window.fetch(url, {
        credentials: "same-origin", headers: { Accept: "application/json" },
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        return response.json().then(function (body) {
          if (body.status !== "success") throw new Error(body.error || response.statusText);
          return body.data.result;
        }, function () { throw new Error(response.status + " " + response.statusText); });
      });
    }
    function finishChart(chart) {
      if (generation !== self.generation) return;
      if (failures.has(chart)) {
        chart.setError(failures.get(chart));
        return;
      }
      var per = results.get(chart);
      chart.setData(alignSeries(chart.defs, per, start, end, step), context);
    }
    function pump() {
      while (running < 4 && next < jobs.length) {
        (function (job) {
          running++;
          fetchOne(job).then(function (result) {
            if (!results.has(job.chart)) results.set(job.chart, []);
            results.get(job.chart)[job.q] = result;
          }, function (err) {
            if (err && err.name === "AbortError") return;
            failures.set(job.chart, err && err.message ? err.message : String(err));
          }).then(function () {
            running--;
            done++;
            if (generation !== self.generation) return;
            var chartJobs = jobs.filter(function (j) { return j.chart === job.chart; });
            var chartDone = chartJobs.every(function (j) {
              return (results.get(j.chart) || [])[j.q] !== undefined || failures.has(j.chart);
            });
            if (chartDone && !job.chart.pendingDone) {
              job.chart.pendingDone = true;
              finishChart(job.chart);
            }
            if (done === jobs.length) self.loaded();
            else pump();
          });
        })(jobs[next++]);
      }
    }
    this.charts.forEach(function (c) { c.pendingDone = false; });
    if (!jobs.length) return;
    pump();
  };

  Group.prototype.loaded = function () {
    this.lastLoad = Date.now();
    this.root.classList.remove("charts-loading");
    var allEmpty = this.charts.every(function (c) { return c.empty || c.error; });
    if (this.emptyNote) this.emptyNote.hidden = !allEmpty;
    this.root.classList.toggle("charts-empty", allEmpty);
    this.root.setAttribute("data-charts-loaded", String(this.generation));
    this.schedule();
  };

  /** Draw a chart from data the page already has: {times: [ms], series: [{name, values}]}. */
  function draw(figure, data) {
    var chart = figure.stewardChart || (figure.stewardChart = new Chart(figure));
    chart.setData({
      times: data.times,
      series: data.series.map(function (s) {
        return { name: s.name, role: s.role || "line", values: Float64Array.from(s.values, Number) };
      })
    }, { range: data.range, step: data.step || 60 });
    return chart;
  }

  window.StewardCharts = {
    formatValue: formatValue, scaleFor: scaleFor, niceTicks: niceTicks, timeTicks: timeTicks,
    chooseStep: chooseStep, rateWindow: rateWindow, draw: draw, RANGES: RANGES
  };

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-charts]"), function (root) {
      if (!root.stewardCharts) root.stewardCharts = new Group(root);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
