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
  const fake = await fakeLiteLLM(hostile);
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

const TOTALS = ["html", "#cards", "#cards tbody tr", "#cards tbody td", "#cards tbody th", "#health", "#targets dd"];

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
  await page.screenshot({ path: join(artifacts, "explorer-desktop.png"), fullPage: true });
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
    await page.locator("#health").screenshot({ path: join(artifacts, "explorer-failing-target.png") });
    assert.deepStrictEqual(problems, []);
    await page.close();
  } finally {
    await originFailing.close();
    await failing.stop();
    await fake.close();
  }
});
