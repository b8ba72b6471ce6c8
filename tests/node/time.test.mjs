// The time bindings the dashboard's explorer uses: a custom range of local
// dates, sums over a range and the default chart step, each checked against
// the other bindings (and so the core) rather than against JS date math.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPulse } from "./support.mjs";

const pulse = loadPulse();

test("dateRange spans the local days from the first date to the last, both included", () => {
  const zone = "America/New_York";
  const r = pulse.dateRange("2026-10-31", "2026-11-02", zone);
  // Each of the three days is the core's period; 2026-11-01 has 25 hours.
  let at = r.startMs;
  for (const date of ["2026-10-31", "2026-11-01", "2026-11-02"]) {
    assert.equal(pulse.formatTimestamp(at, zone).slice(0, 10), date);
    const day = pulse.periodRange(at, zone, "day", 0);
    assert.equal(day.startMs, at);
    at = day.endMs;
  }
  assert.equal(at, r.endMs);
  assert.equal(r.endMs - r.startMs, 73 * 3_600_000);
  assert.equal(pulse.formatTimestamp(r.startMs, zone), "2026-10-31T00:00:00-04:00");
  assert.equal(pulse.formatTimestamp(r.endMs, zone), "2026-11-03T00:00:00-05:00");
  // A 45-minute zone: Kathmandu's midnight is 18:15 UTC the day before.
  const k = pulse.dateRange("2026-11-20", "2026-11-20", "Asia/Kathmandu");
  assert.equal(new Date(k.startMs).toISOString(), "2026-11-19T18:15:00.000Z");
  assert.equal(k.endMs - k.startMs, 86_400_000);
});

test("dateRange refuses bad dates, reversed dates and unknown zones with the core's message", () => {
  assert.throws(() => pulse.dateRange("2026-02-30", "2026-03-01", "UTC"), {
    message: 'invalid date "2026-02-30": expected YYYY-MM-DD',
  });
  assert.throws(() => pulse.dateRange("", "2026-03-01", "UTC"), /invalid date ""/);
  assert.throws(() => pulse.dateRange("2026-03-02", "2026-03-01", "UTC"), {
    message: "the last date 2026-03-01 is before the first date 2026-03-02",
  });
  assert.throws(() => pulse.dateRange("2026-03-01", "2026-03-01", "Mars/Base"), /unknown time zone/);
});

test("rangeSum sums the points in [from, to) without summation noise, as windowSum does", () => {
  const ts = new Float64Array([0, 10, 20, -1]);
  const vs = new Float64Array([0.1, 0.2, 4, 8]);
  assert.equal(pulse.rangeSum(ts, vs, 0, 20), 0.3);
  assert.equal(pulse.rangeSum(ts, vs, 0, 21), 4.3);
  // An empty sum is -0 (Rust sums floats from -0.0); callers format it without a sign.
  assert.equal(Math.abs(pulse.rangeSum(ts, vs, 5, 5)), 0);
  assert.throws(() => pulse.rangeSum(ts, new Float64Array(1), 0, 1), /differ in length/);
  assert.throws(() => pulse.rangeSum(ts, vs, 0.5, 1), /fromMs must be a whole number/);
  const now = Date.UTC(2026, 10, 20, 12);
  const week = pulse.windowRange("week", now, "Europe/Berlin");
  const hourly = Float64Array.from({ length: 24 * 30 }, (_, i) => now - i * 3_600_000);
  const ones = new Float64Array(hourly.length).fill(0.1);
  assert.equal(
    pulse.rangeSum(hourly, ones, week.startMs, week.endMs),
    pulse.windowSum(hourly, ones, "week", now, "Europe/Berlin"),
  );
});

test("defaultStep names the core's step for a range length, which bucketize accepts", () => {
  const day = 86_400_000;
  assert.equal(pulse.defaultStep(0, 2 * day), "1h");
  assert.equal(pulse.defaultStep(0, 2 * day + 1), "1d");
  assert.equal(pulse.defaultStep(0, 120 * day), "1d");
  assert.equal(pulse.defaultStep(0, 121 * day), "1mo");
  assert.equal(pulse.defaultStep(5, 5), "1h");
  const r = pulse.dateRange("2026-01-01", "2026-01-31", "Asia/Kathmandu");
  const step = pulse.defaultStep(r.startMs, r.endMs);
  assert.equal(pulse.bucketEdges(r.startMs, r.endMs, "Asia/Kathmandu", step).length, 31);
});
