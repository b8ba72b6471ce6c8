// The packaged wasm module must say exactly what the native core says about
// every real LiteLLM capture: parsed families, totals and tracker deltas.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { root, fixtures, loadPulse, finiteJson } from "./support.mjs";

const pulse = loadPulse();
const nativePath = join(root, "target", "parity", "native.json");
execFileSync(
  "cargo",
  ["run", "--quiet", "-p", "pulse-wasm", "--example", "parity", "--", fixtures, nativePath],
  { cwd: root, stdio: "inherit" },
);
const native = JSON.parse(readFileSync(nativePath, "utf8"));
const captures = readdirSync(fixtures)
  .filter((n) => n.endsWith(".prom") || n.endsWith(".openmetrics.txt"))
  .sort();

test("every capture is covered", () => {
  assert.ok(captures.length >= 10);
  assert.deepEqual(Object.keys(native.files).sort(), captures);
});

for (const name of captures) {
  test(`parse, sampleTotals and familyTotals of ${name} equal the native core`, () => {
    const body = readFileSync(join(fixtures, name), "utf8");
    const bytes = readFileSync(join(fixtures, name));
    const expected = native.files[name];
    const parsed = pulse.parse(body);
    assert.ok(parsed.families.length > 0);
    assert.deepStrictEqual(finiteJson(parsed), expected.parse);
    assert.deepStrictEqual(finiteJson(pulse.parseBytes(bytes)), expected.parse);
    assert.deepStrictEqual(finiteJson(pulse.sampleTotals(body)), expected.sampleTotals);
    assert.deepStrictEqual(finiteJson(pulse.sampleTotalsBytes(bytes)), expected.sampleTotals);
    assert.deepStrictEqual(finiteJson(pulse.familyTotals(body)), expected.familyTotals);
    assert.deepStrictEqual(finiteJson(pulse.familyTotalsBytes(bytes)), expected.familyTotals);
  });
}

test("the tracker's observations and state over the capture sequence equal the native core", () => {
  const tracker = new pulse.Tracker();
  assert.ok(native.tracker.length >= 8);
  let sawReset = false;
  for (const step of native.tracker) {
    const body = readFileSync(join(fixtures, step.file), "utf8");
    const o = tracker.observe(body, step.observation.atMs);
    assert.deepStrictEqual(finiteJson(o), step.observation, step.file);
    assert.deepStrictEqual(JSON.parse(tracker.exportState()), JSON.parse(step.state), step.file);
    sawReset ||= o.resets > 0;
  }
  assert.ok(sawReset, "the sequence includes the LiteLLM restart");
  // The state moves between the wasm tracker and the native one both ways.
  const last = native.tracker[native.tracker.length - 1];
  const restored = pulse.Tracker.fromState(last.state);
  assert.deepStrictEqual(JSON.parse(restored.exportState()), JSON.parse(last.state));
  restored.free();
  tracker.free();
});
