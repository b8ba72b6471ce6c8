// A consumer of the Node package, type-checked by types.test.mjs with
// `tsc --noEmit`. The @ts-expect-error lines prove the declarations are
// precise: each must be an error, or tsc fails.
import {
  Tracker,
  bucketize,
  clean,
  dateRange,
  defaultStep,
  familyTotals,
  formatTimestamp,
  metricNames,
  parse,
  rangeSum,
  windowRange,
} from "../../pulse-wasm/pkg-node/pulse_wasm.js";
import type {
  Buckets,
  Exposition,
  Family,
  MetricName,
  Observation,
  Sample,
  StepName,
  TimeRange,
  Totals,
} from "../../pulse-wasm/pkg-node/pulse_wasm.js";

const body = "# TYPE x_total counter\nx_total{model=\"a\"} 1\n";
const expo: Exposition = parse(body);
const first: Family | undefined = expo.families[0];
const sample: Sample | undefined = first?.samples[0];
const model: string | undefined = sample?.labels["model"];
const value: number = sample?.value ?? 0;
const ts: number | null = sample?.timestampMs ?? null;
const line: number = expo.errors[0]?.line ?? 0;

const totals: Totals = familyTotals(body);
const total: number | undefined = totals["x_total"];

const tracker = new Tracker({ cost: "my_spend_total" });
const o: Observation = tracker.observe(body, 1_700_000_000_000);
const cost: number = o.deltas.cost;
const live: number = o.live.in_flight_requests;
const key: string = o.breakdown[0]?.key ?? "";
const restored: Tracker = Tracker.fromState(tracker.exportState());
restored.forgetOlderThan(0);

const today: TimeRange = windowRange("today", Date.now(), "Europe/Berlin");
const span: number = today.endMs - today.startMs;
const b: Buckets = bucketize(
  new Float64Array([today.startMs]),
  new Float64Array([1]),
  today.startMs,
  today.endMs,
  "Europe/Berlin",
  "hour",
);
const starts: Float64Array = b.starts;
const names: MetricName[] = metricNames();
const when: string = formatTimestamp(today.startMs, "UTC");
const c: number = clean(0.1 + 0.2);
const days: TimeRange = dateRange("2026-11-01", "2026-11-07", "Europe/Berlin");
const daysSum: number = rangeSum(b.starts, b.values, days.startMs, days.endMs);
const daysStep: StepName = defaultStep(days.startMs, days.endMs);

// @ts-expect-error: a range is an object, not a number
const daysNumber: number = dateRange("2026-11-01", "2026-11-07", "UTC");
// @ts-expect-error: not a tracked metric
const wrong: number = o.deltas.nope;
// @ts-expect-error: a sample value is a number, not a string
const asText: string = sample?.value ?? "";
// @ts-expect-error: overrides map metric names only
new Tracker({ spend: "x" });
// @ts-expect-error: the type keyword is a closed set
const kind: Family["type"] = "histogramm";

export const used = [model, value, ts, line, total, cost, live, key, span, starts, names, when, c, days, daysSum, daysStep, daysNumber, wrong, asText, kind];
