// pyml dashboard: the host anomaly rate with its events, the metrics ranked by anomaly rate in a
// chosen window (each with its values and an anomaly ribbon), and charts by family. Plain SVG;
// every request goes to the v1 API next to this page. Written for pyml; no third-party code.
"use strict";

(function () {
  const params = new URLSearchParams(location.search);
  const HOST = params.get("host");
  const API = HOST ? "host/" + encodeURIComponent(HOST) + "/api/v1/" : "api/v1/";
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#3366cc", "#dc7633", "#2e8b57", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d", "#d4ac0d",
    "#2c3e50", "#e84393"];
  const RANKED = 15;          // metrics shown for a window
  const RATE_CHART = "anomaly_detection.anomaly_rate";

  const state = {
    view: Number(params.get("window")) || 3600,  // seconds back from the newest sample
    now: null,                                   // newest sample time (the host's clock)
    events: [],
    selection: null,                             // {after, before, label, key}
    picked: false,                               // the user chose the selection (no auto pick)
    charts: null,
    family: params.get("family"),
    busy: {},
  };

  // ------------------------------------------------------------------ helpers

  function $(id) { return document.getElementById(id); }

  function status(text, isError) {
    const el = $("status");
    el.textContent = text || "";
    el.className = isError ? "error" : "";
  }

  async function get(endpoint, query) {
    const url = API + endpoint + "?" + new URLSearchParams(query).toString();
    const response = await fetch(url, { cache: "no-store" });
    if (!response.ok) {
      let message = response.status + " " + response.statusText;
      try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
      throw new Error(endpoint + ": " + message);
    }
    return response.json();
  }

  function clock(t, span) {
    const d = new Date(t * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    const time = pad(d.getHours()) + ":" + pad(d.getMinutes()) + (span < 6 * 3600 ? ":" + pad(d.getSeconds()) : "");
    return span >= 86400 ? (d.getMonth() + 1) + "-" + pad(d.getDate()) + " " + time : time;
  }

  function duration(seconds) {
    if (seconds < 120) return seconds + " s";
    if (seconds < 7200) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return (seconds / 3600).toFixed(1) + " h";
    return (seconds / 86400).toFixed(1) + " days";
  }

  function number(v) {
    if (v === null || v === undefined) return "–";
    const a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || a < 1e-2)) return v.toExponential(2);
    return v.toFixed(a >= 100 ? 0 : 2);
  }

  function el(tag, attrs, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  // ------------------------------------------------------------------ one SVG chart
  // spec: {times, series: [{name, values}], rates (percent per row, optional), bands: [[a, b]],
  //        selection: [a, b] | null, domain: [t0, t1], height, unit}

  function draw(svg, spec) {
    const width = Math.max(svg.clientWidth || svg.parentNode.clientWidth || 600, 200);
    const height = spec.height || 160;
    const ribbon = spec.rates ? 10 : 0;
    const pad = { left: 56, right: 8, top: 8, bottom: 18 + ribbon };
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("height", height);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const [t0, t1] = spec.domain;
    const x = (t) => pad.left + (t1 > t0 ? (t - t0) / (t1 - t0) : 0) * w;
    let lo = Infinity, hi = -Infinity;
    for (const s of spec.series) for (const v of s.values) if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    if (spec.zero !== false) { lo = Math.min(lo, 0); }
    if (hi === lo) hi = lo + 1;
    const y = (v) => pad.top + h - (v - lo) / (hi - lo) * h;
    svg._geometry = { left: pad.left, width: w, t0: t0, t1: t1 };

    el("rect", { x: pad.left, y: pad.top, width: w, height: h, class: "plot" }, svg);
    for (const [a, b] of spec.bands || []) {
      const xa = Math.max(x(a), pad.left), xb = Math.min(x(b), pad.left + w);
      if (xb >= xa) el("rect", { x: xa, y: pad.top, width: Math.max(xb - xa, 2), height: h, class: "band" }, svg);
    }
    if (spec.selection) {
      const [a, b] = spec.selection;
      const xa = Math.max(x(a), pad.left), xb = Math.min(x(b), pad.left + w);
      if (xb >= xa) el("rect", { x: xa, y: pad.top, width: Math.max(xb - xa, 2), height: h, class: "selected" }, svg);
    }
    spec.series.forEach((s, i) => {
      let d = "", open = false;
      s.values.forEach((v, j) => {
        if (v === null) { open = false; return; }
        d += (open ? "L" : "M") + x(spec.times[j]).toFixed(1) + " " + y(v).toFixed(1);
        open = true;
      });
      if (d) el("path", { d: d, class: "line", stroke: s.color || COLORS[i % COLORS.length] }, svg).appendChild(
        Object.assign(el("title", {}), { textContent: s.name }));
    });
    if (spec.rates) {
      const step = spec.times.length > 1 ? spec.times[1] - spec.times[0] : 1;
      spec.rates.forEach((r, j) => {
        if (!r) return;
        const xa = x(spec.times[j] - step), xb = x(spec.times[j]);
        el("rect", { x: Math.max(xa, pad.left), y: pad.top + h + 2, width: Math.max(xb - xa, 1.5), height: ribbon - 2,
          class: "ribbon", "fill-opacity": Math.min(1, 0.25 + r / 100) }, svg);
      });
    }
    const label = (text, xx, yy, anchor) => {
      const t = el("text", { x: xx, y: yy, "text-anchor": anchor || "start", class: "axis" }, svg);
      t.textContent = text;
    };
    label(number(hi) + (spec.unit ? " " + spec.unit : ""), pad.left - 4, pad.top + 10, "end");
    label(number(lo), pad.left - 4, pad.top + h, "end");
    label(clock(t0, t1 - t0), pad.left, height - 2);
    label(clock(t1, t1 - t0), pad.left + w, height - 2, "end");
  }

  function rowsOf(doc) {
    // jsonwrap with flip: rows oldest first; [time, v1, v2, ...]
    const data = doc.result.data;
    const times = data.map((r) => r[0]);
    const series = doc.result.labels.slice(1).map((name, i) => ({ name: name, values: data.map((r) => r[i + 1]) }));
    let rates = null;
    if (doc.anomaly_rates) {
      rates = doc.anomaly_rates.data.map((r) => Math.max(0, ...r.slice(1).map((v) => v || 0)));
    }
    return { times: times, series: series, rates: rates };
  }

  async function chartData(chart, after, before, points, dimensions) {
    const query = { chart: chart, after: after, before: before, points: points, group: "average", format: "json",
      options: "jsonwrap,flip,jw-anomaly-rates" };
    if (dimensions) query.dimensions = dimensions;
    return get("data", query);
  }

  // ------------------------------------------------------------------ the host anomaly rate and events

  async function refreshOverview() {
    const svg = $("host-rate");
    const points = Math.min(600, Math.max(60, Math.floor((svg.clientWidth || 800) / 2)));
    let doc;
    try {
      doc = await chartData(RATE_CHART, -state.view, 0, points);
    } catch (e) {
      status(e.message + " (is ML enabled on this host?)", true);
      return;
    }
    const rows = rowsOf(doc);
    state.now = doc.last_entry || (rows.times.length ? rows.times[rows.times.length - 1] : null);
    const t1 = rows.times.length ? rows.times[rows.times.length - 1] : state.now;
    const t0 = Math.max(t1 - state.view, (doc.first_entry || 0) - doc.view_update_every);  // no empty past
    state.domain = [t0, t1];
    const events = await get("anomaly_events", { after: t0 * 1000, before: (t1 + 1) * 1000 });
    state.events = events;
    draw(svg, {
      times: rows.times, series: [{ name: "host anomaly rate", values: rows.series[0] ? rows.series[0].values : [],
        color: "#c0392b" }], bands: events, domain: [t0, t1], height: 170, unit: "%",
      selection: state.selection ? [state.selection.after, state.selection.before] : null,
    });
    renderEvents();
    if (!state.picked && events.length) {
      const newest = events[events.length - 1];
      if (!state.selection || state.selection.key !== "event:" + newest[0] + ":" + newest[1]) selectEvent(newest, false);
    }
    status("updated " + clock(state.now || 0, 0));
  }

  function eventLabel(ev) {
    return "event " + clock(ev[0], 0) + " – " + clock(ev[1], 0) + " (" + duration(ev[1] - ev[0] + 1) + ")";
  }

  function renderEvents() {
    const list = $("events");
    list.textContent = "";
    if (!state.events.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "no anomaly event in this window";
      list.appendChild(li);
      return;
    }
    for (const ev of state.events.slice().reverse()) {
      const li = document.createElement("li");
      li.className = "event";
      li.dataset.after = ev[0];
      li.dataset.before = ev[1];
      if (state.selection && state.selection.key === "event:" + ev[0] + ":" + ev[1]) li.classList.add("active");
      const button = document.createElement("button");
      button.textContent = eventLabel(ev);
      button.addEventListener("click", () => selectEvent(ev, true));
      li.appendChild(button);
      list.appendChild(li);
    }
  }

  function selectEvent(ev, byUser) {
    select({ after: ev[0], before: ev[1], label: eventLabel(ev), key: "event:" + ev[0] + ":" + ev[1] }, byUser);
  }

  function select(selection, byUser) {
    state.selection = selection;
    if (byUser) state.picked = true;
    $("selection").textContent = selection.label;
    renderEvents();
    rank();
  }

  // dragging over the rate chart picks a window
  function enableDrag(svg) {
    let start = null, box = null;
    const timeAt = (event) => {
      const g = svg._geometry;
      if (!g) return null;
      const rect = svg.getBoundingClientRect();
      const scale = (svg.viewBox.baseVal && svg.viewBox.baseVal.width) ? svg.viewBox.baseVal.width / rect.width : 1;
      const px = (event.clientX - rect.left) * scale;
      const f = Math.min(1, Math.max(0, (px - g.left) / g.width));
      return { t: Math.round(g.t0 + f * (g.t1 - g.t0)), px: Math.min(g.left + g.width, Math.max(g.left, px)) };
    };
    svg.addEventListener("mousedown", (event) => {
      start = timeAt(event);
      if (!start) return;
      box = el("rect", { x: start.px, y: 0, width: 1, height: svg.viewBox.baseVal.height, class: "dragging" }, svg);
      event.preventDefault();
    });
    svg.addEventListener("mousemove", (event) => {
      if (!start || !box) return;
      const here = timeAt(event);
      box.setAttribute("x", Math.min(start.px, here.px));
      box.setAttribute("width", Math.max(1, Math.abs(here.px - start.px)));
    });
    window.addEventListener("mouseup", (event) => {
      if (!start) return;
      const end = timeAt(event);
      const a = Math.min(start.t, end.t), b = Math.max(start.t, end.t);
      start = null;
      if (box && box.parentNode) box.parentNode.removeChild(box);
      box = null;
      if (b - a < 2) return;
      select({ after: a, before: b, label: "window " + clock(a, 0) + " – " + clock(b, 0) + " (" + duration(b - a) + ")",
        key: "range:" + a + ":" + b }, true);
    });
  }

  // ------------------------------------------------------------------ ranked metrics of the selection

  async function rank() {
    const sel = state.selection;
    if (!sel) return;
    const list = $("ranking");
    let doc;
    try {
      doc = await get("weights", { method: "anomaly-rate", after: sel.after, before: sel.before, options: "raw,nonzero" });
    } catch (e) {
      status(e.message, true);
      return;
    }
    if (state.selection !== sel) return;  // another window was picked meanwhile
    const ranked = [];
    for (const ctx of Object.values(doc.contexts || {})) {
      for (const [chart, c] of Object.entries(ctx.charts || {})) {
        for (const [dim, rate] of Object.entries(c.dimensions || {})) ranked.push({ chart: chart, dim: dim, rate: rate });
      }
    }
    ranked.sort((a, b) => b.rate - a.rate || (a.chart + "|" + a.dim).localeCompare(b.chart + "|" + b.dim));
    list.textContent = "";
    if (!ranked.length) {
      const li = document.createElement("li");
      li.className = "empty";
      li.textContent = "no metric was anomalous in this window";
      list.appendChild(li);
      return;
    }
    const span = sel.before - sel.after;
    const pad = Math.max(60, Math.round(span / 2));
    for (const item of ranked.slice(0, RANKED)) {
      const li = document.createElement("li");
      li.className = "metric";
      li.dataset.chart = item.chart;
      li.dataset.dimension = item.dim;
      li.dataset.rate = item.rate;
      const head = document.createElement("div");
      head.className = "metric-head";
      head.innerHTML = "<span class='rate'></span> <span class='name'></span>";
      head.querySelector(".rate").textContent = item.rate.toFixed(1) + "%";
      head.querySelector(".name").textContent = item.chart + " · " + item.dim;
      li.appendChild(head);
      const svg = el("svg", { class: "chart small", role: "img" });
      li.appendChild(svg);
      list.appendChild(li);
      chartData(item.chart, sel.after - pad, sel.before + pad, 120, item.dim).then((d) => {
        const rows = rowsOf(d);
        const t1 = rows.times.length ? rows.times[rows.times.length - 1] : sel.before + pad;
        const t0 = rows.times.length ? rows.times[0] - d.view_update_every : sel.after - pad;
        draw(svg, { times: rows.times, series: rows.series, rates: rows.rates, domain: [t0, t1], height: 90,
          selection: [sel.after, sel.before], zero: false });
      }).catch((e) => status(e.message, true));
    }
  }

  // ------------------------------------------------------------------ charts by family

  async function loadCharts() {
    const doc = await get("charts", {});
    state.charts = doc.charts || {};
    if (doc.hostname || (doc.mirrored_hosts && doc.mirrored_hosts[0])) {
      $("host-name").textContent = HOST || doc.hostname;
    }
    const families = {};
    for (const c of Object.values(state.charts)) (families[c.family] = families[c.family] || []).push(c);
    const nav = $("families");
    nav.textContent = "";
    const names = Object.keys(families).sort();
    if (!state.family || !families[state.family]) {
      // the family of the most anomalous metric, else the first family of collected charts
      const top = document.querySelector("#ranking li.metric");
      const topChart = top && state.charts[top.dataset.chart];
      state.family = topChart ? topChart.family :
        (names.find((n) => families[n].some((c) => !c.id.startsWith("anomaly_detection."))) || names[0]);
    }
    for (const name of names) {
      const button = document.createElement("button");
      button.textContent = name + " (" + families[name].length + ")";
      button.dataset.family = name;
      if (name === state.family) button.classList.add("active");
      button.addEventListener("click", () => {
        state.family = name;
        for (const b of nav.children) b.classList.toggle("active", b.dataset.family === name);
        buildFamily();
      });
      nav.appendChild(button);
    }
    state.families = families;
    buildFamily();
  }

  function buildFamily() {
    const grid = $("family-charts");
    grid.textContent = "";
    const charts = (state.families[state.family] || []).slice().sort((a, b) => a.priority - b.priority ||
      a.id.localeCompare(b.id));
    for (const c of charts.slice(0, 24)) {
      const box = document.createElement("div");
      box.className = "family-chart";
      box.dataset.chart = c.id;
      const title = document.createElement("h4");
      title.textContent = c.title + (c.units ? " [" + c.units + "]" : "");
      box.appendChild(title);
      box.appendChild(el("svg", { class: "chart small", role: "img" }));
      grid.appendChild(box);
    }
    refreshFamily();
  }

  async function refreshFamily() {
    const boxes = Array.from($("family-charts").children);
    await Promise.all(boxes.map(async (box) => {
      const svg = box.querySelector("svg");
      try {
        const d = await chartData(box.dataset.chart, -state.view, 0, Math.min(300, Math.max(60,
          Math.floor((svg.clientWidth || 400) / 2))));
        const rows = rowsOf(d);
        const t1 = rows.times.length ? rows.times[rows.times.length - 1] : state.now;
        const t0 = state.domain ? state.domain[0] : t1 - state.view;
        draw(svg, { times: rows.times, series: rows.series, rates: rows.rates, domain: [t0, t1],
          height: 110, bands: state.events,
          selection: state.selection ? [state.selection.after, state.selection.before] : null });
      } catch (e) {
        status(e.message, true);
      }
    }));
  }

  // ------------------------------------------------------------------ the loop

  async function once(name, fn) {
    if (state.busy[name]) return;
    state.busy[name] = true;
    try { await fn(); } catch (e) { status(e.message, true); } finally { state.busy[name] = false; }
  }

  function tick() {
    once("overview", refreshOverview);
    if (state.families) once("family", refreshFamily);
  }

  function start() {
    const choice = $("view-window");
    if ([...choice.options].some((o) => Number(o.value) === state.view)) choice.value = String(state.view);
    choice.addEventListener("change", () => { state.view = Number(choice.value); tick(); });
    enableDrag($("host-rate"));
    get("info", {}).then((info) => {
      $("host-name").textContent = HOST || (info.mirrored_hosts && info.mirrored_hosts[0]) || "pyml";
      const hosts = info.mirrored_hosts || [];
      if (hosts.length > 1 && !$("host-pick")) {   // a parent serving many hosts: switch between them
        const pick = document.createElement("select");
        pick.id = "host-pick";
        pick.title = "host";
        for (const name of [...hosts].sort()) pick.add(new Option(name, name));
        pick.value = HOST || hosts[0];
        pick.addEventListener("change", () => {
          const next = new URLSearchParams(location.search);
          next.set("host", pick.value);
          location.search = next.toString();
        });
        $("host-name").after(pick);
      }
    }).catch(() => {});
    once("overview", refreshOverview).then(() => once("charts", loadCharts));
    setInterval(tick, 1000);
  }

  start();
})();
