// The LiteLLM Pulse dashboard.
//
// Every window boundary, bucket and sum is computed here by pulse-wasm (the
// same Rust core the server runs) from the server's raw 15-minute bucket
// points, so switching the zone re-buckets in the browser and the numbers
// equal the server API's for the same zone. A custom range is two local
// dates that pulse-wasm turns into instants (dateRange); the page does no
// date arithmetic of its own. Labels are always set with textContent, never
// parsed as HTML. The budgets section (budgets.js) draws /api/v1/budgets and
// /api/v1/alerts as the server computed them; alert times are shown in the
// selected zone by pulse-wasm's formatTimestamp. The latency chart and
// columns (latency.js) show /api/v1/series?metric=latency_* and
// /api/v1/latency for the selected range as the server computed them:
// quantiles of several buckets or keys cannot be added up in the page. The
// download links ask /api/v1/export for the same range, step and dimension.
import init, * as pulse from "./pkg/pulse_wasm.js";
import uPlot from "./vendor/uPlot.esm.js";
import { ColorBook, OTHER_COLOR } from "./colors.js";
import { renderTable } from "./table.js";
import { renderAlerts, renderBudgets } from "./budgets.js";
import { drawLatency, formatSeconds, latencyLines } from "./latency.js";
import { fleetTargets } from "./targets.js";

const REFRESH_MS = 60_000;
const DAY_MS = 86_400_000;
// The API returns at most 5,000 points per request: 30 days of 15-minute buckets fit.
const CHUNK_MS = 30 * DAY_MS;
const HISTORY_MS = 91 * DAY_MS;
const CARDS_MS = 32 * DAY_MS;
const MAX_KEYS = 8;
// How many of the latest alerts the page lists.
const ALERTS_SHOWN = 20;
const CARD_METRICS = [
  "cost",
  "tokens",
  "requests",
  "failed_requests",
  "cache_hits",
  "cache_misses",
  "input_cached_tokens",
  "input_tokens",
];
const CHART_METRICS = ["cost", "tokens", "requests"];
const PRESETS = {
  "24h": { window: "24h", step: "hour" },
  "7d": { window: "7d", step: "hour" },
  "30d": { window: "30d", step: "day" },
  "90d": { window: "90d", step: "day" },
};
const WINDOWS = [
  { id: "today", label: "Today" },
  { id: "week", label: "This week" },
  { id: "month", label: "This month" },
];
// How bucket starts are labelled, per step name (presets and pulse.defaultStep).
const STEP_LABELS = {
  hour: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  "1h": { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" },
  day: { month: "short", day: "numeric" },
  "1d": { month: "short", day: "numeric" },
  "1mo": { year: "numeric", month: "short" },
};

// The API sits beside the page, also when the page is served at /dashboard/.
const apiBase = new URL(location.pathname.endsWith("/dashboard/") ? "../" : "./", location.href);

const state = {
  serverZone: null,
  zone: null,
  // A preset name of PRESETS, or "custom" (the dates in `custom`).
  range: "24h",
  custom: null,
  dimension: "model",
  // "metric|dimension" -> Map(key -> Map(bucketStartMs -> value))
  series: new Map(),
  // "metric|dimension" -> the earliest instant loaded
  loadedFrom: new Map(),
  loaded: new Set(),
  // dimension -> the all-time rows of /api/v1/breakdown
  allTime: new Map(),
  summary: null,
  health: null,
  // /api/v1/budgets and /api/v1/alerts, and why they failed to load (the rest of the page still works).
  budgets: null,
  budgetsError: null,
  alerts: null,
  plots: new Map(),
  colors: new ColorBook(),
  table: { filter: "", sort: "cost", dir: "desc" },
  // The latency chart and columns: the choices, the last answer (`data`, for
  // the selection `data.id`), the selection being loaded, and a failed one.
  latency: {
    histogram: "request_latency",
    quantile: "latency_p90",
    data: null,
    stale: false,
    pending: null,
    failed: null,
    error: null,
    plot: null,
  },
};

const $ = (sel) => document.querySelector(sel);

/** GET a JSON document of the API; throws with the server's message. */
async function api(path, params = {}) {
  const url = new URL(path, apiBase);
  for (const [k, v] of Object.entries(params)) {
    url.searchParams.set(k, String(v));
  }
  const resp = await fetch(url, { headers: { accept: "application/json" } });
  const body = await resp.json().catch(() => null);
  if (!resp.ok) {
    throw new Error(body?.error ?? `${url.pathname}: HTTP ${resp.status}`);
  }
  return body;
}

/** Fetches the 15-minute bucket points of `metric` (by `dimension` or total) and merges them. */
async function loadSeries(metric, dimension, fromMs, toMs) {
  const id = `${metric}|${dimension}`;
  let byKey = state.series.get(id);
  if (!byKey) {
    byKey = new Map();
    state.series.set(id, byKey);
  }
  const start = pulse.storageBucket(fromMs);
  const chunks = [];
  for (let from = start; from < toMs; from += CHUNK_MS) {
    chunks.push([from, Math.min(from + CHUNK_MS, toMs)]);
  }
  const bodies = await Promise.all(
    chunks.map(([from, to]) =>
      api("api/v1/series", {
        metric,
        step: "15m",
        from,
        to,
        ...(dimension === "total" ? {} : { by: dimension }),
      }),
    ),
  );
  for (const body of bodies) {
    state.serverZone ??= body.tz;
    for (const s of body.series) {
      let points = byKey.get(s.key);
      if (!points) {
        points = new Map();
        byKey.set(s.key, points);
      }
      body.t.forEach((t, i) => {
        const v = s.values[i] ?? 0;
        if (v !== 0 || points.has(t)) {
          points.set(t, v);
        }
      });
    }
  }
  state.loadedFrom.set(id, Math.min(start, state.loadedFrom.get(id) ?? Infinity));
}

/** The points of one key as parallel typed arrays, sorted by time. */
function arrays(points) {
  const ts = [...points.keys()].sort((a, b) => a - b);
  const timestamps = new Float64Array(ts);
  const values = new Float64Array(ts.length);
  ts.forEach((t, i) => {
    values[i] = points.get(t);
  });
  return { timestamps, values };
}

function totalPoints(metric) {
  const byKey = state.series.get(`${metric}|total`);
  return arrays(byKey?.get("total") ?? new Map());
}

function windowSum(points, windowId, now) {
  return pulse.windowSum(points.timestamps, points.values, windowId, now, state.zone);
}

function rangeSum(points, range) {
  return pulse.rangeSum(points.timestamps, points.values, range.startMs, range.endMs);
}

// signDisplay "negative": an empty sum (-0) is shown as 0, not "-0".
const money = new Intl.NumberFormat(undefined, {
  style: "currency",
  currency: "USD",
  minimumFractionDigits: 2,
  maximumFractionDigits: 4,
  signDisplay: "negative",
});
const count = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0, signDisplay: "negative" });
const pct = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1, signDisplay: "negative" });
// The API's error rate is a fraction; "percent" shows 0.043 as "4.3%".
const rate = new Intl.NumberFormat(undefined, { style: "percent", maximumFractionDigits: 1 });
const missing = (v) => v === null || v === undefined;

function formatValue(metric, v) {
  if (metric === "cost") return money.format(v);
  return count.format(v);
}

/** A dimension's name as people read it: "end_user" -> "end user". */
function dimensionLabel(dimension) {
  return dimension.replaceAll("_", " ");
}

function cell(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [k, v] of Object.entries(attrs)) {
    el.setAttribute(k, v);
  }
  return el;
}

/** One row of card values: per metric its sum, plus the two cache rates. */
function cardRow(get) {
  return {
    cost: get("cost"),
    tokens: get("tokens"),
    requests: get("requests"),
    failed_requests: get("failed_requests"),
    cache_hit_pct: pulse.clean(pulse.cacheHitPct(get("cache_hits"), get("cache_misses"))),
    input_cached_pct: pulse.clean(pulse.inputCachedPct(get("input_cached_tokens"), get("input_tokens"))),
  };
}

const CARD_COLUMNS = [
  { metric: "cost", label: "Cost", format: (v) => money.format(v) },
  { metric: "tokens", label: "Tokens", format: (v) => count.format(v) },
  { metric: "requests", label: "Requests", format: (v) => count.format(v) },
  { metric: "failed_requests", label: "Failures", format: (v) => count.format(v) },
  { metric: "cache_hit_pct", label: "Cache hits", format: (v) => `${pct.format(v)} %` },
  { metric: "input_cached_pct", label: "Cached input", format: (v) => `${pct.format(v)} %` },
];

function renderCards(now) {
  const rows = [];
  const points = Object.fromEntries(CARD_METRICS.map((m) => [m, totalPoints(m)]));
  for (const w of WINDOWS) {
    rows.push({ id: w.id, label: w.label, ...cardRow((m) => windowSum(points[m], w.id, now)) });
  }
  const s = state.summary;
  if (s) {
    rows.push({ id: "all_time", label: "All time", ...cardRow((m) => s[m] ?? 0) });
  }
  const trs = rows.map((r) => {
    const tr = document.createElement("tr");
    tr.dataset.window = r.id;
    tr.append(
      cell("th", r.label, { scope: "row" }),
      ...CARD_COLUMNS.map((c) =>
        cell("td", c.format(r[c.metric]), {
          "data-metric": c.metric,
          "data-value": String(r[c.metric]),
          "data-label": c.label,
        }),
      ),
    );
    return tr;
  });
  $("#cards tbody").replaceChildren(...trs);
}

/**
 * The selected range at `now`: a preset window or the custom dates, both
 * turned into instants by pulse-wasm, with the chart step. Throws the core's
 * message for dates it refuses.
 */
function selectedRange(now) {
  if (state.range === "custom") {
    const r = pulse.dateRange(state.custom.from, state.custom.to, state.zone);
    return { startMs: r.startMs, endMs: r.endMs, step: pulse.defaultStep(r.startMs, r.endMs) };
  }
  const { window, step } = PRESETS[state.range];
  const r = pulse.windowRange(window, now, state.zone);
  return { startMs: r.startMs, endMs: r.endMs, step };
}

/** Per key of the dimension, its sum of each chart metric over `range`. */
function keyTotals(range) {
  const totals = new Map();
  for (const metric of CHART_METRICS) {
    const byKey = state.series.get(`${metric}|${state.dimension}`) ?? new Map();
    for (const [key, points] of byKey) {
      if (!totals.has(key)) totals.set(key, { key, cost: 0, tokens: 0, requests: 0 });
      totals.get(key)[metric] = rangeSum(arrays(points), range);
    }
  }
  return totals;
}

/**
 * The legend: the keys with anything in the range, most expensive first
 * (then most requests, tokens, name), at most MAX_KEYS of them plus one
 * "other" entry. Every chart uses this one list, so order and colours agree.
 */
function legendOf(totals) {
  const ranked = [...totals.values()]
    .filter((t) => t.cost !== 0 || t.tokens !== 0 || t.requests !== 0)
    .sort(
      (a, b) =>
        b.cost - a.cost || b.requests - a.requests || b.tokens - a.tokens || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0),
    );
  const shown = ranked.slice(0, MAX_KEYS);
  const rest = ranked.slice(MAX_KEYS);
  const colors = state.colors.assign(state.dimension, shown.map((t) => t.key));
  const entries = shown.map((t) => ({ label: t.key, keys: [t.key], color: colors.get(t.key) }));
  if (rest.length > 0) {
    entries.push({ label: `other (${rest.length})`, keys: rest.map((t) => t.key), color: OTHER_COLOR, other: true });
  }
  return entries;
}

/** Buckets every legend entry of `metric` over `range` (an "other" entry sums its keys' buckets). */
function chartData(metric, range, legend) {
  const byKey = state.series.get(`${metric}|${state.dimension}`) ?? new Map();
  const starts = new Float64Array(pulse.bucketEdges(range.startMs, range.endMs, state.zone, range.step));
  const bucketsOf = (key) => {
    const a = arrays(byKey.get(key) ?? new Map());
    return pulse.bucketize(a.timestamps, a.values, range.startMs, range.endMs, state.zone, range.step).values;
  };
  const entries = legend.map((entry) => {
    const values = new Float64Array(starts.length);
    let total = 0;
    for (const key of entry.keys) {
      bucketsOf(key).forEach((v, i) => {
        values[i] += v;
      });
      total += rangeSum(arrays(byKey.get(key) ?? new Map()), range);
    }
    return { ...entry, values, total: pulse.clean(total) };
  });
  return { starts, entries, step: range.step };
}

/**
 * Draws one stacked bar chart. The first legend entry is on top of the
 * stack: series i is the sum of entries i..n, drawn from the tallest down,
 * so each band shows one entry and uPlot's legend lists the entries in
 * legend order.
 */
function drawChart(figure, metric, data) {
  const plotEl = figure.querySelector(".plot");
  const n = data.starts.length;
  const xs = Array.from(data.starts, (t) => t / 1000);
  const stacked = [];
  const running = new Float64Array(n);
  for (let i = data.entries.length - 1; i >= 0; i--) {
    data.entries[i].values.forEach((v, j) => {
      running[j] += v;
    });
    stacked[i] = Array.from(running);
  }
  const series = [{}];
  const columns = [xs];
  data.entries.forEach((entry, i) => {
    const raw = entry.values;
    series.push({
      label: entry.label,
      stroke: entry.color,
      fill: entry.color,
      width: 0,
      paths: uPlot.paths.bars({ size: [0.9, 64], align: 1 }),
      points: { show: false },
      value: (_u, _v, _si, idx) => (idx == null ? "" : formatValue(metric, raw[idx])),
    });
    columns.push(stacked[i]);
  });
  const width = Math.max(260, plotEl.clientWidth || figure.clientWidth || 600);
  const fmt = new Intl.DateTimeFormat(undefined, { timeZone: state.zone, ...(STEP_LABELS[data.step] ?? STEP_LABELS.day) });
  const opts = {
    width,
    height: 220,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), state.zone),
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.05 : 1] } },
    axes: [
      { stroke: "currentColor", grid: { stroke: "rgba(128,128,128,0.15)" } },
      {
        stroke: "currentColor",
        grid: { stroke: "rgba(128,128,128,0.15)" },
        size: 64,
        values: (_u, ticks) => ticks.map((v) => formatValue(metric, v)),
      },
    ],
    legend: { live: true },
    cursor: { points: { show: false } },
    series,
  };
  const old = state.plots.get(metric);
  if (old) old.destroy();
  plotEl.replaceChildren();
  const plot = new uPlot(opts, columns, plotEl);
  state.plots.set(metric, plot);
  let sum = 0;
  for (const e of data.entries) sum += e.total;
  sum = pulse.clean(sum);
  const first = n > 0 ? fmt.format(new Date(data.starts[0])) : "";
  const last = n > 0 ? fmt.format(new Date(data.starts[n - 1])) : "";
  plotEl.setAttribute(
    "aria-label",
    `${figure.querySelector("figcaption").textContent}: ${formatValue(metric, sum)} in ${n} buckets from ${first} to ${last}, stacked by ${dimensionLabel(state.dimension)}: ${data.entries.map((e) => `${e.label} ${formatValue(metric, e.total)}`).join(", ") || "no data"}.`,
  );
  figure.dataset.buckets = String(n);
  figure.dataset.keys = String(data.entries.length);
  figure.dataset.total = String(sum);
  figure.dataset.starts = JSON.stringify(Array.from(data.starts));
  figure.dataset.legend = JSON.stringify(data.entries.map((e) => [e.label, e.color]));
  figure.dataset.zone = state.zone;
  figure.dataset.range = state.range;
  figure.dataset.step = data.step;
}

/** The columns of the breakdown table; sums over the selected range and the usual windows. */
function tableColumns(legendColors) {
  return [
    {
      id: "key",
      label: dimensionLabel(state.dimension).replace(/^./, (c) => c.toUpperCase()),
      text: true,
      decorate: (el, row) => {
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.setAttribute("aria-hidden", "true");
        const color = legendColors.get(row.key);
        if (color) swatch.style.setProperty("--swatch", color);
        else swatch.classList.add("none");
        el.append(swatch);
      },
    },
    { id: "cost", label: "Cost", format: (v) => money.format(v) },
    { id: "tokens", label: "Tokens", format: (v) => count.format(v) },
    { id: "requests", label: "Requests", format: (v) => count.format(v) },
    { id: "p50", label: "p50", format: formatSeconds },
    { id: "p90", label: "p90", format: formatSeconds },
    { id: "p99", label: "p99", format: formatSeconds },
    { id: "error_rate", label: "Error rate", format: (v) => (missing(v) ? "–" : rate.format(v)) },
    { id: "fallbacks", label: "Fallbacks", format: (v) => (missing(v) ? "–" : count.format(v)) },
    { id: "cost_today", label: "Cost today", format: (v) => money.format(v) },
    { id: "cost_month", label: "Cost this month", format: (v) => money.format(v) },
    { id: "cost_all", label: "Cost all time", format: (v) => money.format(v) },
  ];
}

/**
 * The rows of the breakdown table: every key seen in the series, the
 * all-time breakdown or the latency answer (`latencyRows`, null while it
 * loads: its columns are then empty).
 */
function tableRows(totals, now, latencyRows) {
  const costByKey = state.series.get(`cost|${state.dimension}`) ?? new Map();
  const allTime = new Map((state.allTime.get(state.dimension) ?? []).map((r) => [r.name, r]));
  const latency = new Map((latencyRows ?? []).map((r) => [r.key, r]));
  const keys = new Set([...totals.keys(), ...allTime.keys(), ...latency.keys()]);
  return [...keys].map((key) => {
    const t = totals.get(key) ?? { cost: 0, tokens: 0, requests: 0 };
    const cost = arrays(costByKey.get(key) ?? new Map());
    const l = latency.get(key);
    return {
      key,
      cost: t.cost,
      tokens: t.tokens,
      requests: t.requests,
      p50: l?.p50 ?? null,
      p90: l?.p90 ?? null,
      p99: l?.p99 ?? null,
      error_rate: l ? l.error_rate : null,
      fallbacks: l ? l.fallbacks : null,
      cost_today: windowSum(cost, "today", now),
      cost_month: windowSum(cost, "month", now),
      cost_all: allTime.get(key)?.cost ?? 0,
    };
  });
}

function renderTableOnly() {
  if (!state.tableData) return; // the first range was refused; nothing to show yet
  const { columns, rows } = state.tableData;
  const table = $("#breakdown");
  const shown = renderTable(table, columns, rows, state.table, {
    onSort: (id) => {
      if (state.table.sort === id) {
        state.table.dir = state.table.dir === "asc" ? "desc" : "asc";
      } else {
        state.table.sort = id;
        state.table.dir = id === "key" ? "asc" : "desc";
      }
      renderTableOnly();
      table.querySelector(`thead th[data-col="${id}"] button`)?.focus();
    },
    empty: (all) => (all === 0 ? `No ${dimensionLabel(state.dimension)} has been seen yet.` : "Nothing matches the filter."),
  });
  table.dataset.dimension = state.dimension;
  table.dataset.rows = String(shown);
  $("#breakdown-count").textContent =
    shown === rows.length ? `${rows.length} ${rows.length === 1 ? "row" : "rows"}` : `${shown} of ${rows.length} rows`;
}

const HISTOGRAM_LABELS = {
  request_latency: "request latency",
  llm_api_latency: "LLM API latency",
  time_to_first_token: "time to first token",
  overhead_latency: "overhead latency",
  queue_time: "queue time",
};

/**
 * What the latency chart and columns show, as one string: it names the
 * selection (a preset, not its instants, so a preset's moving end does not
 * ask again on every render; the refresh does).
 */
function latencySelection() {
  const L = state.latency;
  return JSON.stringify([L.histogram, L.quantile, state.dimension, state.zone, state.range, state.range === "custom" ? state.custom : null]);
}

/**
 * Asks the server for the latency chart and columns of `range` unless that
 * selection is loaded (and not stale), being loaded or failed; redraws the
 * explorer when the answer is still the one wanted.
 */
function ensureLatency(range) {
  const L = state.latency;
  const id = latencySelection();
  if ((L.data?.id === id && !L.stale) || L.pending === id || L.failed === id) return;
  L.pending = id;
  $("#chart-latency").dataset.state = "loading";
  const query = { histogram: L.histogram, by: state.dimension, from: range.startMs, to: range.endMs, tz: state.zone };
  Promise.all([
    api("api/v1/series", { metric: L.quantile, ...query, step: range.step }),
    api("api/v1/latency", query),
  ])
    .then(([series, table]) => {
      if (L.pending !== id) return;
      L.data = { id, series, rows: table.rows, query: { ...query, step: range.step } };
      L.stale = false;
      L.failed = null;
      L.error = null;
    })
    .catch((err) => {
      if (L.pending !== id) return;
      L.failed = id;
      L.error = err.message;
    })
    .finally(() => {
      if (L.pending !== id) return;
      L.pending = null;
      renderExplorer(Date.now());
    });
}

/**
 * Draws the latency chart of the selection when its answer is here (and
 * asks for it otherwise); returns that answer for the table, or null.
 */
function renderLatency(range, legend) {
  const L = state.latency;
  const figure = $("#chart-latency");
  const id = latencySelection();
  ensureLatency(range);
  $("#latency-title").textContent =
    `Latency by ${dimensionLabel(state.dimension)}: ${$("#latency-quantile").selectedOptions[0].textContent}, ${HISTOGRAM_LABELS[L.histogram]}`;
  const empty = $("#latency-empty");
  const note = $("#latency-note");
  if (L.failed === id) {
    figure.dataset.state = "error";
    empty.hidden = false;
    empty.textContent = `Could not load latency: ${L.error}`;
    note.hidden = true;
    return null;
  }
  const data = L.data?.id === id ? L.data : null;
  if (!data) return null; // loading; the previous drawing stays until the answer
  const { lines, left } = latencyLines(data.series, legend, state.colors, state.dimension);
  figure.dataset.from = String(data.query.from);
  figure.dataset.to = String(data.query.to);
  figure.dataset.step = data.series.step;
  figure.dataset.histogram = data.series.histogram;
  figure.dataset.quantile = data.series.metric;
  figure.dataset.zone = data.series.tz;
  figure.dataset.starts = JSON.stringify(data.series.t);
  figure.dataset.legend = JSON.stringify(lines.map((l) => [l.label, l.color]));
  figure.dataset.values = JSON.stringify(Object.fromEntries(lines.map((l) => [l.label, l.values])));
  figure.dataset.keys = String(lines.length);
  if (lines.length === 0) {
    if (L.plot) L.plot.destroy();
    L.plot = null;
    figure.querySelector(".plot").replaceChildren();
    figure.dataset.state = "empty";
    empty.hidden = false;
    empty.textContent =
      L.histogram === "time_to_first_token"
        ? "No time to first token in this range: LiteLLM records it for streamed requests only."
        : `No ${HISTOGRAM_LABELS[L.histogram]} in this range: LiteLLM writes its latency histograms as requests finish.`;
    note.hidden = true;
    return data;
  }
  empty.hidden = true;
  L.plot = drawLatency(uPlot, figure, L.plot, data.series.t, lines, {
    zone: data.series.tz,
    labelFormat: STEP_LABELS[data.series.step] ?? STEP_LABELS.day,
  });
  figure.dataset.state = "drawn";
  note.hidden = left === 0;
  note.textContent =
    left === 0
      ? ""
      : `${left} more ${left === 1 ? "key is" : "keys are"} grouped as “other” in the legend and not drawn: quantiles of several keys cannot be added up (the table lists each).`;
  return data;
}

/** The download links: /api/v1/export of the selected range, step, dimension and zone. */
function renderDownloads(range) {
  const date = (ms) => pulse.formatTimestamp(ms, state.zone).slice(0, 10);
  for (const format of ["csv", "ndjson"]) {
    const url = new URL("api/v1/export", apiBase);
    url.search = new URLSearchParams({
      format,
      by: state.dimension,
      from: String(range.startMs),
      to: String(range.endMs),
      step: range.step,
      tz: state.zone,
    }).toString();
    const a = $(`#export-${format}`);
    a.href = url.href;
    a.download = `litellm-pulse-${state.dimension}-${date(range.startMs)}-to-${date(range.endMs)}.${format}`;
  }
}

/** Charts and the breakdown table of the selected range and dimension. */
function renderExplorer(now) {
  const errorEl = $("#range-error");
  let range;
  try {
    range = selectedRange(now);
  } catch (err) {
    errorEl.hidden = false;
    errorEl.textContent = err.message;
    return;
  }
  errorEl.hidden = true;
  errorEl.textContent = "";
  const totals = keyTotals(range);
  const legend = legendOf(totals);
  for (const metric of CHART_METRICS) {
    const figure = $(`#chart-${metric}`);
    drawChart(figure, metric, chartData(metric, range, legend));
    figure.dataset.now = String(now);
    figure.dataset.from = String(range.startMs);
    figure.dataset.to = String(range.endMs);
  }
  const legendColors = new Map(legend.filter((e) => !e.other).map((e) => [e.label, e.color]));
  const latency = renderLatency(range, legend);
  state.tableData = { columns: tableColumns(legendColors), rows: tableRows(totals, now, latency?.rows) };
  const table = $("#breakdown");
  table.dataset.from = String(range.startMs);
  table.dataset.to = String(range.endMs);
  table.dataset.latency = latency ? latency.id : "";
  renderDownloads(range);
  $("#range-text").textContent =
    `${pulse.formatTimestamp(range.startMs, state.zone)} to ${pulse.formatTimestamp(range.endMs, state.zone)} (end excluded)`;
  renderTableOnly();
}

/**
 * The scrape targets and their state, from /health and /api/v1/metrics: the
 * fleet's, or one entry per target when pulse scrapes several (targets.js).
 */
function scrapeTargets() {
  const h = state.health ?? {};
  const s = state.summary ?? {};
  let status = h.status ?? "starting";
  // The server applies the core's freshness rule (the one /readyz uses).
  if (status === "ok" && h.fresh === false) status = "stale";
  // Several LiteLLM processes: one entry each (targets.js).
  const fleet = fleetTargets(h);
  if (fleet) return fleet;
  return [
    {
      name: "LiteLLM",
      status,
      fresh: h.fresh ?? null,
      staleAfter: h.stale_after ?? null,
      interval: h.scrape_interval ?? s.scrape_interval ?? null,
      lastSuccess: s.last_scrape ?? h.last_scrape ?? null,
      lastAttempt: h.last_attempt ?? null,
      failures: h.consecutive_failures ?? 0,
      error: h.error ?? s.error ?? null,
    },
  ];
}

const STATUS_WORDS = {
  ok: "Scraping normally",
  starting: "Waiting for the first scrape",
  degraded: "Scrape failing",
  stale: "Stale: no recent successful scrape",
};

function when(iso) {
  return iso ? pulse.formatTimestamp(Date.parse(iso), state.zone) : "never";
}

function renderHealth() {
  const targets = scrapeTargets();
  const worst = targets.find((t) => t.status !== "ok" && t.status !== "unlisted") ?? targets[0];
  const section = $("#health");
  section.dataset.state = worst.status;
  $("#health-text").textContent = `${STATUS_WORDS[worst.status] ?? worst.status} · last successful scrape: ${when(worst.lastSuccess)}`;
  const errorEl = $("#health-error");
  errorEl.hidden = !worst.error;
  errorEl.textContent = worst.error ? `Error: ${worst.error}` : "";
  const items = targets.map((t) => {
    const li = document.createElement("li");
    li.className = "target";
    li.dataset.state = t.status;
    const title = cell("p", t.name, { class: "target-name" });
    const dl = document.createElement("dl");
    const field = (id, label, text, wide = false) => {
      const div = document.createElement("div");
      if (wide) div.className = "wide";
      div.append(cell("dt", label), cell("dd", text, { "data-field": id }));
      dl.append(div);
    };
    field("status", "Status", t.status);
    field(
      "fresh",
      "Fresh",
      t.fresh === null ? "unknown" : t.fresh ? "yes" : `no (nothing for ${t.staleAfter ?? "?"} s)`,
    );
    field("last_success", "Last success", when(t.lastSuccess), true);
    if (t.lastAttempt) field("last_attempt", "Last attempt", when(t.lastAttempt), true);
    field("last_error", "Last error", t.error ?? "none", t.error !== null);
    if (t.failures > 0) field("failures", "Failures in a row", count.format(t.failures));
    if (t.interval !== null) field("interval", "Interval", `${t.interval} s`);
    li.append(title, dl);
    return li;
  });
  $("#targets").replaceChildren(...items);
}

const FORMATS = { value: formatValue, money: (v) => money.format(v), pct: (v) => pct.format(v) };

function render() {
  const now = Date.now();
  renderHealth();
  renderBudgets(state.budgets, state.budgetsError, FORMATS);
  renderAlerts(state.alerts, FORMATS, when);
  renderCards(now);
  renderExplorer(now);
  document.body.dataset.ready = "true";
}

function showError(err) {
  const errorEl = $("#health-error");
  errorEl.hidden = false;
  errorEl.textContent = `Could not load data: ${err.message}`;
  $("#health").dataset.state = "degraded";
}

async function loadDimension(dimension, fromMs, toMs) {
  await Promise.all([
    ...CHART_METRICS.map((m) => loadSeries(m, dimension, fromMs, toMs)),
    api("api/v1/breakdown", { by: dimension, window: "all" }).then((rows) => state.allTime.set(dimension, rows)),
  ]);
  state.loaded.add(dimension);
}

/** Loads what the selected dimension and range need and has not been loaded yet. */
async function ensureLoaded(now) {
  if (!state.loaded.has(state.dimension)) {
    await loadDimension(state.dimension, now - HISTORY_MS, now + 1);
  }
  let range;
  try {
    range = selectedRange(now);
  } catch {
    return; // renderExplorer shows the core's message
  }
  const from = Math.min(...CHART_METRICS.map((m) => state.loadedFrom.get(`${m}|${state.dimension}`) ?? now));
  if (range.startMs < from) {
    await Promise.all(CHART_METRICS.map((m) => loadSeries(m, state.dimension, range.startMs, from)));
  }
}

/**
 * Loads the budgets and the latest alerts. A failure is kept for the budgets
 * section to show; it never stops the rest of the page.
 */
async function loadBudgets() {
  const [budgets, alerts] = await Promise.allSettled([
    api("api/v1/budgets"),
    api("api/v1/alerts", { limit: ALERTS_SHOWN }),
  ]);
  state.budgets = budgets.status === "fulfilled" ? budgets.value : null;
  state.budgetsError = budgets.status === "rejected" ? budgets.reason : null;
  state.alerts = alerts.status === "fulfilled" ? alerts.value : null;
}

/** Loads everything once: 32 days of totals for the cards, 91 days per chart metric. */
async function loadAll() {
  const now = Date.now();
  const [summary, health] = await Promise.all([
    api("api/v1/metrics"),
    api("health"),
    loadBudgets(),
    ...CARD_METRICS.map((m) => loadSeries(m, "total", now - CARDS_MS, now + 1)),
    loadDimension(state.dimension, now - HISTORY_MS, now + 1),
  ]);
  state.summary = summary;
  state.health = health;
}

/** Refreshes the summaries and the last two hours of every loaded series. */
async function refresh() {
  const now = Date.now();
  const from = now - 2 * 3_600_000;
  const [summary, health] = await Promise.all([
    api("api/v1/metrics"),
    api("health"),
    loadBudgets(),
    ...CARD_METRICS.map((m) => loadSeries(m, "total", from, now + 1)),
    ...[...state.loaded].map((d) => loadDimension(d, from, now + 1)),
  ]);
  state.summary = summary;
  state.health = health;
  state.latency.stale = true;
  state.latency.failed = null;
}

function fillZones() {
  const select = $("#zone");
  const browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const zones = [
    { value: state.serverZone, label: `${state.serverZone} (server)` },
    { value: browserZone, label: `${browserZone} (this browser)` },
    { value: "UTC", label: "UTC" },
  ].filter((z, i, all) => z.value && pulse.isValidZone(z.value) && all.findIndex((o) => o.value === z.value) === i);
  select.replaceChildren(
    ...zones.map((z) => {
      const o = document.createElement("option");
      o.value = z.value;
      o.textContent = z.label;
      return o;
    }),
  );
  select.value = state.zone;
}

/** The dimension choices: the core's list (pulse.dimensionNames), not one of our own. */
function fillDimensions() {
  const select = $("#dimension");
  select.replaceChildren(
    ...pulse.dimensionNames().map((d) => {
      const o = document.createElement("option");
      o.value = d;
      o.textContent = dimensionLabel(d);
      return o;
    }),
  );
  select.value = state.dimension;
}

/** Starts the date inputs at the last 7 days, as local dates of the zone (read, not computed). */
function fillDates(now) {
  const from = $("#range-from");
  const to = $("#range-to");
  const localDate = (ms) => pulse.formatTimestamp(ms, state.zone).slice(0, 10);
  if (!from.value) from.value = localDate(pulse.windowRange("7d", now, state.zone).startMs);
  if (!to.value) to.value = localDate(now);
}

/** Renders the explorer after loading what it needs; a failed load is shown, not thrown. */
async function updateExplorer() {
  try {
    await ensureLoaded(Date.now());
  } catch (err) {
    showError(err);
    return;
  }
  renderExplorer(Date.now());
}

function wireControls() {
  $("#zone").addEventListener("change", (e) => {
    state.zone = e.target.value;
    render();
  });
  for (const input of document.querySelectorAll("input[name=range]")) {
    input.addEventListener("change", (e) => {
      state.range = e.target.value;
      if (state.range === "custom") {
        state.custom = { from: $("#range-from").value, to: $("#range-to").value };
      }
      updateExplorer();
    });
  }
  for (const input of [$("#range-from"), $("#range-to")]) {
    input.addEventListener("change", () => {
      state.custom = { from: $("#range-from").value, to: $("#range-to").value };
      state.range = "custom";
      $("#range-custom").checked = true;
      updateExplorer();
    });
  }
  $("#dimension").addEventListener("change", (e) => {
    state.dimension = e.target.value;
    updateExplorer();
  });
  $("#latency-histogram").addEventListener("change", (e) => {
    state.latency.histogram = e.target.value;
    renderExplorer(Date.now());
  });
  $("#latency-quantile").addEventListener("change", (e) => {
    state.latency.quantile = e.target.value;
    renderExplorer(Date.now());
  });
  $("#breakdown-filter").addEventListener("input", (e) => {
    state.table.filter = e.target.value;
    renderTableOnly();
  });
  let width = window.innerWidth;
  window.addEventListener("resize", () => {
    if (Math.abs(window.innerWidth - width) > 40) {
      width = window.innerWidth;
      renderExplorer(Date.now());
    }
  });
}

async function main() {
  await init();
  try {
    await loadAll();
  } catch (err) {
    showError(err);
    return;
  }
  state.serverZone ??= "UTC";
  state.zone = state.serverZone;
  fillZones();
  fillDimensions();
  fillDates(Date.now());
  wireControls();
  render();
  setInterval(async () => {
    if (document.hidden) return;
    try {
      await refresh();
      render();
    } catch (err) {
      showError(err);
    }
  }, REFRESH_MS);
}

main();
