// The dashboard in real headless Chromium against the release binary:
// demo mode for the numbers and charts, a fake LiteLLM for hostile labels.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  artifacts,
  dashboardOrigin,
  ensureDist,
  failingLiteLLM,
  fakeLiteLLM,
  launch,
  pulse,
  startPulse,
  tempDir,
  watch,
} from "./support.mjs";

// A server zone with a 45-minute offset and a browser zone with DST, so
// daily buckets differ between them.
const SERVER_ZONE = "Asia/Kathmandu";
const BROWSER_ZONE = "America/New_York";
const WINDOW_FIELDS = { today: "_daily", week: "_weekly", month: "_monthly", all_time: "" };
const CARD_FIELDS = ["cost", "tokens", "requests", "failed_requests", "input_cached_pct"];

let server;
let origin;
let context;

before(async () => {
  ensureDist();
  mkdirSync(artifacts, { recursive: true });
  server = await startPulse(["demo", "--port", "0", "--timezone", SERVER_ZONE]);
  origin = await dashboardOrigin(server.url);
  if (!origin.embedded) {
    console.log("# the binary does not embed web/dist yet: serving it beside the binary's API");
  }
  context = await launch(BROWSER_ZONE);
});

after(async () => {
  await context?.close();
  await origin?.close();
  await server?.stop();
});

async function apiMetrics() {
  return fetch(new URL("api/v1/metrics", server.url)).then((r) => r.json());
}

function cardFields(m) {
  const out = {};
  for (const [w, suffix] of Object.entries(WINDOW_FIELDS)) {
    for (const f of CARD_FIELDS) out[`${w}.${f}`] = m[`${f}${suffix}`];
  }
  return out;
}

async function openDashboard(width, height) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  const problems = watch(page);
  await page.goto(origin.url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
  return { page, problems };
}

async function pageCards(page) {
  return page.$$eval("#cards tbody tr", (rows) => {
    const out = {};
    for (const tr of rows) {
      for (const td of tr.querySelectorAll("td[data-metric]")) {
        out[`${tr.dataset.window}.${td.dataset.metric}`] = Number(td.dataset.value);
      }
    }
    return out;
  });
}

test("the demo dashboard loads cleanly, draws every chart and its cards equal /api/v1/metrics", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  for (const metric of ["cost", "tokens", "requests"]) {
    const fig = page.locator(`#chart-${metric}`);
    assert.ok(Number(await fig.getAttribute("data-buckets")) >= 24, `${metric} buckets`);
    assert.ok(Number(await fig.getAttribute("data-keys")) >= 2, `${metric} keys`);
    assert.ok(Number(await fig.getAttribute("data-total")) > 0, `${metric} total`);
    // The canvas has coloured pixels: the bars were drawn.
    const painted = await fig.locator("canvas").evaluate((c) => {
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
      return n;
    });
    assert.ok(painted > 1000, `${metric} chart painted ${painted} pixels`);
  }
  // The demo scrapes every 5 s: compare when no scrape landed between two reads.
  let matched = false;
  for (let attempt = 0; attempt < 10 && !matched; attempt++) {
    const before = cardFields(await apiMetrics());
    await page.reload();
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    const cards = await pageCards(page);
    const afterRead = cardFields(await apiMetrics());
    if (JSON.stringify(before) !== JSON.stringify(afterRead)) continue;
    matched = true;
    const shown = {};
    for (const k of Object.keys(before)) shown[k] = cards[k];
    assert.deepStrictEqual(shown, before);
    assert.ok(before["today.requests"] > 0 && before["month.cost"] > 0);
  }
  assert.ok(matched, "found a quiet moment between two scrapes");
  assert.equal(await page.locator("#health").getAttribute("data-state"), "ok");
  await page.screenshot({ path: join(artifacts, "dashboard-desktop.png"), fullPage: true });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("without budgets the budgets section says how to configure one and the page works", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const budgets = await fetch(new URL("api/v1/budgets", server.url)).then((r) => r.json());
  const alerts = await fetch(new URL("api/v1/alerts", server.url)).then((r) => r.json());
  assert.deepStrictEqual(budgets.budgets, []);
  assert.equal(await page.locator("#budgets").getAttribute("data-state"), "none");
  assert.equal(await page.locator("#budget-list li").count(), 0);
  assert.equal(await page.locator("#budgets-key").isHidden(), true);
  assert.equal(await page.locator("#budgets-error").isHidden(), true);
  const hint = await page.locator("#budgets-empty").textContent();
  assert.equal(await page.locator("#budgets-empty").isVisible(), true);
  assert.match(hint, /LITELLM_PULSE_MONTHLY_BUDGET=100/);
  assert.match(hint, /LITELLM_PULSE_CONFIG/);
  assert.equal(await page.locator("#alerts li").count(), alerts.alerts.length);
  if (alerts.alerts.length === 0) {
    assert.equal(await page.locator("#alerts-count").textContent(), "No alert has been recorded.");
  }
  // The rest of the dashboard is drawn as usual.
  assert.ok(Number(await page.locator("#chart-cost").getAttribute("data-buckets")) >= 24);
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("switching to the browser's zone re-buckets the days as the core says", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  assert.equal(await page.locator("#zone").inputValue(), SERVER_ZONE);
  await page.locator("label[for=range-30d]").click();
  const fig = page.locator("#chart-cost");
  await assert.doesNotReject(page.waitForFunction(() => document.querySelector("#chart-cost").dataset.range === "30d"));
  const server = JSON.parse(await fig.getAttribute("data-starts"));
  await page.locator("#zone").selectOption(BROWSER_ZONE);
  await page.waitForFunction((z) => document.querySelector("#chart-cost").dataset.zone === z, BROWSER_ZONE);
  const browser = JSON.parse(await fig.getAttribute("data-starts"));
  const now = Number(await fig.getAttribute("data-now"));
  for (const [zone, starts] of [[SERVER_ZONE, server], [BROWSER_ZONE, browser]]) {
    const r = pulse.windowRange("30d", now, zone);
    assert.deepStrictEqual(starts, Array.from(pulse.bucketEdges(r.startMs, r.endMs, zone, "day")), zone);
    for (const t of starts) assert.equal(pulse.bucketStart(t, zone, "day"), t);
  }
  // Kathmandu midnight is 18:15 UTC, New York's 04:00 or 05:00 UTC.
  assert.equal(((server[1] % 86_400_000) + 86_400_000) % 86_400_000, 18.25 * 3_600_000);
  assert.ok([4, 5].includes((browser[1] % 86_400_000) / 3_600_000));
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(artifacts, "dashboard-phone.png"), fullPage: true });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("a model named <img src=x onerror=alert(1)> is shown as text", async () => {
  const hostile = "<img src=x onerror=alert(1)>";
  const fake = await fakeLiteLLM(hostile, { latency: true });
  const dir = tempDir();
  const pulseXss = await startPulse(
    ["--port", "0", "--timezone", "UTC", "--scrape-interval", "1"],
    {
      LITELLM_PULSE_METRICS_URL: fake.url,
      LITELLM_PULSE_DB_PATH: join(dir, "pulse.db"),
    },
  );
  const originXss = await dashboardOrigin(pulseXss.url);
  try {
    // Two scrapes make a delta, so the model has spend.
    while (fake.scrapes() < 3) await new Promise((r) => setTimeout(r, 200));
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(originXss.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    const names = await page.$$eval("#breakdown tbody th", (ths) => ths.map((t) => t.textContent));
    assert.ok(names.includes(hostile), `models table shows ${JSON.stringify(names)}`);
    assert.equal(await page.locator("main img").count(), 0);
    const legend = await page.locator("#chart-cost .u-legend").textContent();
    assert.ok(legend.includes(hostile));
    // The latency chart's legend and the table's latency cells show it as text too.
    await page.waitForSelector("#chart-latency[data-state=drawn]");
    assert.ok((await page.locator("#chart-latency .u-legend").textContent()).includes(hostile));
    const p50 = await page.$eval("#breakdown tbody tr[data-key]", (tr) => tr.querySelector('td[data-col="p50"]').textContent);
    assert.match(p50, /ms$/);
    assert.equal(await page.locator("main img, main script:not([src])").count(), 0);
    assert.deepStrictEqual(problems, []);
    await page.close();
  } finally {
    await originXss.close();
    await pulseXss.stop();
    await fake.close();
  }
});

// ---------------------------------------------------------------------------
// The explorer: dimension tables, a custom date range, one legend, phone width.

/** The rows of the breakdown table as { key: { column: value } }. */
async function tableRows(page) {
  return page.$$eval("#breakdown tbody tr[data-key]", (trs) =>
    trs.map((tr) => {
      const row = { key: tr.querySelector("th").textContent };
      for (const td of tr.querySelectorAll("td[data-col]")) row[td.dataset.col] = Number(td.dataset.value);
      return row;
    }),
  );
}

async function chooseDimension(page, dimension) {
  await page.locator("#dimension").selectOption(dimension);
  await page.waitForFunction((d) => document.querySelector("#breakdown").dataset.dimension === d, dimension);
}

async function sortBy(page, column) {
  await page.locator(`#breakdown thead th[data-col="${column}"] button`).click();
  return page.locator(`#breakdown thead th[data-col="${column}"]`).getAttribute("aria-sort");
}

function close(a, b) {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** A local date of `zone`, `window` back from `now`, as a date input writes it (computed by the core). */
function dateBack(window, now, zone) {
  return pulse.formatTimestamp(pulse.windowRange(window, now, zone).startMs, zone).slice(0, 10);
}

test("every dimension of the core has a table, sortable by any column and filtered by name", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const options = await page.$$eval("#dimension option", (os) => os.map((o) => o.value));
  assert.deepStrictEqual(options, Array.from(pulse.dimensionNames()));
  assert.ok(options.includes("provider") && options.includes("end_user"));
  for (const dimension of options) {
    await chooseDimension(page, dimension);
    const rows = await tableRows(page);
    assert.ok(rows.length >= 1, `${dimension}: ${rows.length} rows`);
    assert.ok(rows.some((r) => r.cost_all > 0), `${dimension} has all-time spend`);
  }
  await chooseDimension(page, "user");
  // The default order: most expensive in the range first.
  assert.equal(await page.locator('#breakdown thead th[data-col="cost"]').getAttribute("aria-sort"), "descending");
  const users = await tableRows(page);
  assert.ok(users.length >= 3, `the demo has several users: ${JSON.stringify(users)}`);
  for (const column of ["requests", "tokens", "cost_all", "cost_month"]) {
    assert.equal(await sortBy(page, column), "descending");
    let values = (await tableRows(page)).map((r) => r[column]);
    assert.deepStrictEqual(values, values.toSorted((a, b) => b - a), `${column} descending`);
    assert.equal(await sortBy(page, column), "ascending");
    values = (await tableRows(page)).map((r) => r[column]);
    assert.deepStrictEqual(values, values.toSorted((a, b) => a - b), `${column} ascending`);
  }
  assert.equal(await sortBy(page, "key"), "ascending");
  const keys = (await tableRows(page)).map((r) => r.key);
  assert.deepStrictEqual(keys, keys.toSorted());
  assert.equal(await sortBy(page, "key"), "descending");
  assert.deepStrictEqual((await tableRows(page)).map((r) => r.key), keys.toReversed());

  // The filter: a case-insensitive substring of the key.
  const target = keys.find((k) => k.length >= 3);
  const needle = target.slice(1, 3).toUpperCase();
  await page.locator("#breakdown-filter").fill(needle);
  const filtered = (await tableRows(page)).map((r) => r.key);
  assert.deepStrictEqual(
    filtered.toSorted(),
    keys.filter((k) => k.toLowerCase().includes(needle.toLowerCase())).toSorted(),
  );
  assert.ok(filtered.includes(target));
  await page.locator("#breakdown-filter").fill("no such name at all");
  assert.equal((await tableRows(page)).length, 0);
  assert.match(await page.locator("#breakdown tbody").textContent(), /Nothing matches/);
  await page.locator("#breakdown-filter").fill("");
  assert.equal((await tableRows(page)).length, keys.length);
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("a custom date range drives the charts and the table, equal to /api/v1/series for the same range", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const now = Number(await page.locator("#chart-cost").getAttribute("data-now"));
  // Whole past days, so the demo's live scrapes cannot change them.
  const from = dateBack("10d", now, SERVER_ZONE);
  const to = dateBack("3d", now, SERVER_ZONE);
  const range = pulse.dateRange(from, to, SERVER_ZONE);
  await chooseDimension(page, "team");
  await page.locator("#range-from").fill(from);
  await page.locator("#range-to").fill(to);
  await page.waitForFunction(
    (r) => {
      const fig = document.querySelector("#chart-cost");
      return fig.dataset.range === "custom" && fig.dataset.from === String(r.startMs) && fig.dataset.to === String(r.endMs);
    },
    { startMs: range.startMs, endMs: range.endMs },
  );
  assert.equal(await page.locator("#range-custom").isChecked(), true);
  const rows = new Map((await tableRows(page)).map((r) => [r.key, r]));
  for (const metric of ["cost", "tokens", "requests"]) {
    const url = new URL("api/v1/series", server.url);
    url.search = new URLSearchParams({
      metric,
      by: "team",
      from: String(range.startMs),
      to: String(range.endMs),
      step: "1d",
      tz: SERVER_ZONE,
    }).toString();
    const body = await fetch(url).then((r) => r.json());
    const fig = page.locator(`#chart-${metric}`);
    // Eight local days: the chart's daily buckets are the API's.
    assert.equal(body.t.length, 8);
    assert.deepStrictEqual(JSON.parse(await fig.getAttribute("data-starts")), body.t);
    assert.equal(await fig.getAttribute("data-step"), pulse.defaultStep(range.startMs, range.endMs));
    let all = 0;
    for (const s of body.series) {
      const sum = s.values.reduce((a, v) => a + v, 0);
      all += sum;
      const row = rows.get(s.key);
      if (sum === 0 && !row) continue;
      assert.ok(row, `the table has ${s.key}`);
      assert.ok(close(row[metric], sum), `${metric} of ${s.key}: table ${row[metric]}, API ${sum}`);
    }
    assert.ok(all > 0, `${metric} in the range`);
    assert.ok(close(Number(await fig.getAttribute("data-total")), all), `${metric} chart total`);
  }
  // Reversed dates are refused with the core's message, and nothing is redrawn.
  await page.locator("#range-to").fill(from);
  await page.locator("#range-from").fill(to);
  await page.waitForSelector("#range-error:not([hidden])");
  assert.equal(
    await page.locator("#range-error").textContent(),
    `the last date ${from} is before the first date ${to}`,
  );
  // The last good range (from..from) is still drawn.
  const oneDay = pulse.dateRange(from, from, SERVER_ZONE);
  assert.equal(await page.locator("#chart-cost").getAttribute("data-from"), String(oneDay.startMs));
  assert.equal(await page.locator("#chart-cost").getAttribute("data-to"), String(oneDay.endMs));
  // A preset brings the charts back.
  await page.locator("label[for=range-30d]").click();
  await page.waitForFunction(() => document.querySelector("#chart-cost").dataset.range === "30d");
  assert.equal(await page.locator("#range-error").isHidden(), true);
  assert.deepStrictEqual(problems, []);
  await page.close();
});

/** Each chart's legend as uPlot drew it: [label, marker colour] in order. */
async function legends(page) {
  return page.$$eval("figure.chart", (figs) =>
    figs.map((fig) =>
      [...fig.querySelectorAll(".u-legend .u-series")].slice(1).map((tr) => [
        tr.querySelector(".u-label").textContent,
        getComputedStyle(tr.querySelector(".u-marker")).backgroundColor,
      ]),
    ),
  );
}

test("the legend has the same keys, order and colours in every chart, and keeps a key's colour", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  await chooseDimension(page, "key");
  await page.locator("label[for=range-30d]").click();
  await page.waitForFunction(() => document.querySelector("#chart-cost").dataset.range === "30d");
  const [cost, tokens, requests] = await legends(page);
  assert.ok(cost.length >= 3, `legend ${JSON.stringify(cost)}`);
  assert.deepStrictEqual(tokens, cost);
  assert.deepStrictEqual(requests, cost);
  assert.equal(new Set(cost.map(([, c]) => c)).size, cost.length, "distinct colours");
  // The table's swatches carry the same colours.
  const swatches = await page.$$eval("#breakdown tbody tr[data-key]", (trs) =>
    trs
      .map((tr) => [tr.dataset.key, tr.querySelector(".swatch:not(.none)")])
      .filter(([, s]) => s)
      .map(([k, s]) => [k, getComputedStyle(s).backgroundColor]),
  );
  const colorOf = new Map(cost);
  for (const [key, color] of swatches) assert.equal(color, colorOf.get(key), key);
  assert.equal(swatches.length, cost.filter(([label]) => !label.startsWith("other (")).length);
  // Another range, another dimension and back, and the zone: keys keep their colours.
  for (const step of [
    () => page.locator("label[for=range-24h]").click(),
    () => chooseDimension(page, "model"),
    () => chooseDimension(page, "key"),
    () => page.locator("#zone").selectOption(BROWSER_ZONE),
    () => page.locator("label[for=range-30d]").click(),
  ]) {
    await step();
    await page.waitForTimeout(100);
    const [now] = await legends(page);
    for (const [label, color] of now) {
      if (colorOf.has(label)) assert.equal(color, colorOf.get(label), `${label} kept its colour`);
    }
  }
  assert.deepStrictEqual(problems, []);
  await page.close();
});

/** Elements among `selectors` whose content is wider than their box. */
async function overflowing(page, selectors) {
  return page.evaluate((sels) => {
    const out = [];
    for (const sel of sels) {
      for (const el of document.querySelectorAll(sel)) {
        if (el.scrollWidth > el.clientWidth) {
          out.push(`${sel} ${el.dataset.metric ?? ""}: ${el.scrollWidth} > ${el.clientWidth}`);
        }
      }
    }
    return out;
  }, selectors);
}

const TOTALS = [
  "html",
  "#cards",
  "#cards tbody tr",
  "#cards tbody td",
  "#cards tbody th",
  "#health",
  "#targets dd",
  "#chart-latency",
  "#chart-latency figcaption",
  ".table-head",
];

test("at phone width (390 px) the totals fit without sideways scrolling", async () => {
  const { page, problems } = await openDashboard(390, 844);
  assert.deepStrictEqual(await overflowing(page, [...TOTALS, ".table-wrap:has(#cards)"]), []);
  // Every value is shown in full, with its label, inside the 390 px.
  const boxes = await page.$$eval("#cards td", (tds) =>
    tds.map((td) => ({ label: getComputedStyle(td, "::before").content, right: td.getBoundingClientRect().right })),
  );
  assert.equal(boxes.length, 24);
  for (const b of boxes) {
    assert.ok(b.right <= 390, `right edge ${b.right}`);
    assert.notEqual(b.label, "none");
  }
  await page.waitForSelector("#chart-latency[data-state=drawn]");
  assert.deepStrictEqual(await overflowing(page, TOTALS), []);
  for (const sel of ["#chart-latency", "#export-csv", "#export-ndjson", "#latency-quantile"]) {
    const box = await page.locator(sel).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${sel} inside the 390 px: ${JSON.stringify(box)}`);
  }
  await page.locator("#chart-latency").screenshot({ path: join(artifacts, "latency-phone.png") });
  await page.screenshot({ path: join(artifacts, "explorer-phone.png") });
  await page.screenshot({ path: join(artifacts, "explorer-phone-full.png"), fullPage: true });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("at desktop width the explorer shows the scrape status, totals, charts and table", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  assert.deepStrictEqual(await overflowing(page, [...TOTALS, ".table-wrap"]), []);
  const field = (f) => page.locator(`#targets dd[data-field="${f}"]`).textContent();
  assert.equal(await field("status"), "ok");
  assert.equal(await field("fresh"), "yes");
  assert.equal(await field("last_error"), "none");
  assert.match(await field("last_success"), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+05:45$/);
  assert.equal(await page.locator("#targets li").getAttribute("data-state"), "ok");
  await page.locator("label[for=range-7d]").click();
  await page.waitForFunction(() => document.querySelector("#chart-cost").dataset.range === "7d");
  await page.waitForSelector("#chart-latency[data-state=drawn]");
  await page.screenshot({ path: join(artifacts, "explorer-desktop.png"), fullPage: true });
  await page.locator("#chart-latency").screenshot({ path: join(artifacts, "latency-desktop.png") });
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("a failing target is shown as failing, with its error as text", async () => {
  const hostile = "<b>boom</b> <img src=x onerror=alert(1)>";
  const fake = await failingLiteLLM(500, hostile);
  const dir = tempDir();
  const failing = await startPulse(["--port", "0", "--timezone", "UTC", "--scrape-interval", "1"], {
    LITELLM_PULSE_METRICS_URL: fake.url,
    LITELLM_PULSE_DB_PATH: join(dir, "pulse.db"),
  });
  const originFailing = await dashboardOrigin(failing.url);
  try {
    while (fake.scrapes() < 2) await new Promise((r) => setTimeout(r, 200));
    const page = await context.newPage();
    const problems = watch(page);
    await page.goto(originFailing.url);
    await page.waitForSelector("body[data-ready=true]", { timeout: 60_000 });
    assert.equal(await page.locator("#health").getAttribute("data-state"), "degraded");
    assert.equal(await page.locator("#targets li").getAttribute("data-state"), "degraded");
    const field = (f) => page.locator(`#targets dd[data-field="${f}"]`).textContent();
    assert.equal(await field("status"), "degraded");
    assert.equal(await field("last_success"), "never");
    const error = await field("last_error");
    assert.match(error, /500/);
    assert.ok(Number(await field("failures")) >= 1);
    assert.match(await page.locator("#health-error").textContent(), /^Error: /);
    assert.equal(await page.locator("main img, main b").count(), 0);
    assert.match(await page.locator("#breakdown tbody").textContent(), /No model has been seen yet/);
    // No histogram yet: the latency chart says so instead of drawing nothing.
    await page.waitForSelector("#chart-latency[data-state=empty]");
    assert.match(await page.locator("#latency-empty").textContent(), /^No request latency in this range/);
    await page.locator("#health").screenshot({ path: join(artifacts, "explorer-failing-target.png") });
    assert.deepStrictEqual(problems, []);
    await page.close();
  } finally {
    await originFailing.close();
    await failing.stop();
    await fake.close();
  }
});

// ---------------------------------------------------------------------------
// Latency and health, and the download links.

/** GET an API document of the demo. */
async function apiGet(path, params) {
  const url = new URL(path, server.url);
  url.search = new URLSearchParams(params).toString();
  const resp = await fetch(url);
  assert.equal(resp.status, 200, `${url}`);
  return resp.json();
}

/** Waits until the latency chart shows `histogram`/`quantile` of the custom range now selected. */
async function latencyDrawn(page, { histogram, quantile, state = "drawn" }) {
  await page.waitForFunction(
    ({ histogram, quantile, state }) => {
      const fig = document.querySelector("#chart-latency");
      const table = document.querySelector("#breakdown");
      return (
        fig.dataset.state === state &&
        fig.dataset.histogram === histogram &&
        fig.dataset.quantile === quantile &&
        fig.dataset.from === table.dataset.from &&
        fig.dataset.to === table.dataset.to
      );
    },
    { histogram, quantile, state },
    { timeout: 30_000 },
  );
}

/** Selects whole past local days (so the demo's live scrapes cannot change them). */
async function pastDays(page, dimension) {
  const now = Number(await page.locator("#chart-cost").getAttribute("data-now"));
  const from = dateBack("10d", now, SERVER_ZONE);
  const to = dateBack("3d", now, SERVER_ZONE);
  const range = pulse.dateRange(from, to, SERVER_ZONE);
  await chooseDimension(page, dimension);
  await page.locator("#range-from").fill(from);
  await page.locator("#range-to").fill(to);
  await page.waitForFunction(
    (r) => {
      const table = document.querySelector("#breakdown");
      return table.dataset.from === String(r.startMs) && table.dataset.to === String(r.endMs);
    },
    { startMs: range.startMs, endMs: range.endMs },
  );
  return range;
}

test("the latency chart draws the demo's quantiles per model as /api/v1/series answers, in the legend's order and colours", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const range = await pastDays(page, "model");
  await latencyDrawn(page, { histogram: "request_latency", quantile: "latency_p90" });
  const fig = page.locator("#chart-latency");
  const attr = async (name) => fig.getAttribute(`data-${name}`);
  assert.equal(await attr("from"), String(range.startMs));
  assert.equal(await attr("to"), String(range.endMs));
  // The step is the core's for the range, the buckets are the core's edges.
  const step = pulse.defaultStep(range.startMs, range.endMs);
  assert.equal(await attr("step"), step);
  const starts = JSON.parse(await attr("starts"));
  assert.deepStrictEqual(starts, Array.from(pulse.bucketEdges(range.startMs, range.endMs, SERVER_ZONE, step)));
  const series = async (metric, histogram) =>
    apiGet("api/v1/series", {
      metric,
      histogram,
      by: "model",
      from: String(range.startMs),
      to: String(range.endMs),
      step,
      tz: SERVER_ZONE,
    });
  const p90 = await series("latency_p90", "request_latency");
  assert.deepStrictEqual(starts, p90.t);
  const drawn = JSON.parse(await attr("values"));
  assert.ok(Object.keys(drawn).length >= 4, `the demo's models: ${Object.keys(drawn)}`);
  for (const [key, values] of Object.entries(drawn)) {
    assert.deepStrictEqual(values, p90.series.find((s) => s.key === key).values, key);
    assert.ok(values.every((v) => v === null || (v > 0 && v < 60)), `${key}: ${values}`);
  }
  // The canvas has coloured pixels: the lines were drawn.
  const painted = await fig.locator("canvas").evaluate((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  });
  assert.ok(painted > 500, `latency chart painted ${painted} pixels`);
  // Same keys in the same order and colours as the cost chart's legend.
  const costLegend = JSON.parse(await page.locator("#chart-cost").getAttribute("data-legend"));
  const latencyLegend = JSON.parse(await attr("legend"));
  const costColor = new Map(costLegend);
  const shared = latencyLegend.filter(([k]) => costColor.has(k));
  assert.ok(shared.length >= 4);
  for (const [key, color] of shared) assert.equal(color, costColor.get(key), key);
  assert.deepStrictEqual(
    shared.map(([k]) => k),
    costLegend.map(([k]) => k).filter((k) => shared.some(([s]) => s === k)),
  );
  // p99 is never below p90, bucket by bucket; the quantile selector redraws.
  await page.locator("#latency-quantile").selectOption("latency_p99");
  await latencyDrawn(page, { histogram: "request_latency", quantile: "latency_p99" });
  const p99 = JSON.parse(await attr("values"));
  for (const [key, values] of Object.entries(p99)) {
    values.forEach((v, i) => {
      if (v !== null) assert.ok(v >= drawn[key][i], `${key} bucket ${i}: p99 ${v} < p90 ${drawn[key][i]}`);
    });
  }
  assert.match(await page.locator("#latency-title").textContent(), /p99, request latency/);
  // Every histogram the demo writes draws; first tokens only for streams.
  for (const histogram of ["llm_api_latency", "time_to_first_token", "overhead_latency"]) {
    await page.locator("#latency-histogram").selectOption(histogram);
    await latencyDrawn(page, { histogram, quantile: "latency_p99" });
    const api = await series("latency_p99", histogram);
    const values = JSON.parse(await attr("values"));
    assert.ok(Object.keys(values).length >= 2, `${histogram}: ${Object.keys(values)}`);
    for (const [key, v] of Object.entries(values)) {
      assert.deepStrictEqual(v, api.series.find((s) => s.key === key).values, `${histogram} ${key}`);
    }
  }
  // The demo writes no queue-time histogram: the chart says so.
  await page.locator("#latency-histogram").selectOption("queue_time");
  await latencyDrawn(page, { histogram: "queue_time", quantile: "latency_p99", state: "empty" });
  assert.match(await page.locator("#latency-empty").textContent(), /^No queue time in this range/);
  assert.deepStrictEqual(problems, []);
  await page.close();
});

test("the table's latency and health columns are /api/v1/latency's numbers for the range, and sort", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const range = await pastDays(page, "model");
  await latencyDrawn(page, { histogram: "request_latency", quantile: "latency_p90" });
  const api = await apiGet("api/v1/latency", {
    by: "model",
    from: String(range.startMs),
    to: String(range.endMs),
    tz: SERVER_ZONE,
  });
  assert.equal(api.histogram, "request_latency");
  const rows = await page.$$eval("#breakdown tbody tr[data-key]", (trs) =>
    trs.map((tr) => {
      const row = { key: tr.dataset.key };
      for (const td of tr.querySelectorAll("td[data-col]")) row[td.dataset.col] = { value: td.dataset.value, text: td.textContent };
      return row;
    }),
  );
  const byKey = new Map(rows.map((r) => [r.key, r]));
  const withLatency = api.rows.filter((r) => r.count > 0);
  assert.ok(withLatency.length >= 4, JSON.stringify(api.rows));
  for (const r of api.rows) {
    const row = byKey.get(r.key);
    assert.ok(row, `the table has ${r.key}`);
    for (const col of ["p50", "p90", "p99", "error_rate", "fallbacks"]) {
      assert.equal(row[col].value, String(r[col]), `${r.key} ${col}`);
    }
  }
  // Failures cause fallbacks in the demo; the rate is shown as a percentage, times in ms or s.
  assert.ok(api.rows.some((r) => r.error_rate > 0 && r.fallbacks > 0));
  for (const r of withLatency) {
    assert.match(byKey.get(r.key).p50.text, /^[\d.,\s]+ (ms|s)$/);
    assert.match(byKey.get(r.key).error_rate.text, /%$/);
  }
  for (const column of ["p90", "error_rate", "fallbacks"]) {
    assert.equal(await sortBy(page, column), "descending");
    const values = (await tableRows(page)).map((r) => r[column]).filter((v) => !Number.isNaN(v));
    assert.deepStrictEqual(values, values.toSorted((a, b) => b - a), `${column} descending`);
  }
  assert.deepStrictEqual(problems, []);
  await page.close();
});

/** Parses RFC 4180 CSV (quoted fields with commas, quotes and line breaks). */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else if (c !== "\r") field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

test("the download links export the selected range and dimension; the CSV's totals are /api/v1/series'", async () => {
  const { page, problems } = await openDashboard(1280, 900);
  const range = await pastDays(page, "team");
  const step = pulse.defaultStep(range.startMs, range.endMs);
  const csvLink = page.locator("#export-csv");
  const href = new URL(await csvLink.getAttribute("href"), server.url);
  assert.equal(href.origin, new URL(server.url).origin);
  assert.equal(href.pathname, "/api/v1/export");
  assert.deepStrictEqual(Object.fromEntries(href.searchParams), {
    format: "csv",
    by: "team",
    from: String(range.startMs),
    to: String(range.endMs),
    step,
    tz: SERVER_ZONE,
  });
  assert.match(await csvLink.getAttribute("download"), /^litellm-pulse-team-.*\.csv$/);
  const ndjsonHref = new URL(await page.locator("#export-ndjson").getAttribute("href"), server.url);
  assert.equal(ndjsonHref.searchParams.get("format"), "ndjson");
  assert.equal(ndjsonHref.searchParams.get("from"), String(range.startMs));
  // A click downloads the file the browser names after the range.
  const [download] = await Promise.all([page.waitForEvent("download"), csvLink.click()]);
  assert.match(download.suggestedFilename(), /^litellm-pulse-team-.*\.csv$/);
  const { readFileSync } = await import("node:fs");
  const [header, ...rows] = parseCsv(readFileSync(await download.path(), "utf8"));
  assert.deepStrictEqual(header.slice(0, 3), ["start", "end", "key"]);
  for (const metric of ["cost", "tokens", "requests"]) {
    const col = header.indexOf(metric);
    assert.ok(col > 2, `${metric} column in ${header}`);
    const csv = new Map();
    for (const r of rows) {
      // A key a spreadsheet could run as a formula gets a leading ' in CSV; none of the demo's does.
      csv.set(r[2], (csv.get(r[2]) ?? 0) + Number(r[col]));
    }
    const api = await apiGet("api/v1/series", {
      metric,
      by: "team",
      from: String(range.startMs),
      to: String(range.endMs),
      step,
      tz: SERVER_ZONE,
    });
    let all = 0;
    for (const s of api.series) {
      const sum = s.values.reduce((a, v) => a + v, 0);
      all += sum;
      assert.equal(csv.get(s.key) ?? 0, sum, `${metric} of ${s.key}`);
    }
    assert.ok(all > 0);
    assert.equal([...csv.values()].reduce((a, v) => a + v, 0), all, `${metric} total`);
  }
  // The NDJSON link answers the same rows.
  const ndjson = (await fetch(ndjsonHref).then((r) => r.text())).trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(ndjson.length, rows.length);
  // Chromium reports the request a download took over as aborted; nothing else may fail.
  const aborted = /^request failed: \S*\/api\/v1\/export\?\S* net::ERR_ABORTED$/;
  assert.deepStrictEqual(problems.filter((p) => !aborted.test(p)), []);
  await page.close();
});
