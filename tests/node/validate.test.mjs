// The package's second module, the strict validator, says what the native
// core says: the same problems, lines and kinds, as plain JS objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fixtures, loadValidate, pkgNode } from "./support.mjs";

const { validate, validateBytes } = loadValidate();

test("a valid OpenMetrics body has no problem", () => {
  const body = "# TYPE a counter\n# HELP a Requests.\na_total 1\na_created 1700000000.5\n# EOF\n";
  assert.deepStrictEqual(validate(body), { format: "openmetrics", valid: true, problems: [] });
});

test("each problem has its line, kind and message", () => {
  const body =
    "# TYPE a counter\na_total -1\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n";
  const report = validate(body);
  assert.equal(report.valid, false);
  assert.deepStrictEqual(
    report.problems.map((p) => [p.line, p.kind]),
    [
      [2, "NegativeValue"],
      [5, "BucketNotCumulative"],
    ],
  );
  assert.match(report.problems[0].message, /a_total is -1/);
});

test("the format: auto, explicit, and an unknown one throws", () => {
  const text = "a{x=\"1\",} 1\n";
  assert.equal(validate(text).format, "prometheus");
  assert.equal(validate(text).valid, true);
  assert.equal(validate(text, "auto").valid, true);
  const strict = validate(text, "openmetrics");
  assert.equal(strict.format, "openmetrics");
  assert.deepStrictEqual(
    strict.problems.map((p) => p.kind),
    ["MalformedLabels", "MissingEof"],
  );
  assert.throws(() => validate(text, "yaml"), /unknown format "yaml"/);
});

test("bytes: a line that is not UTF-8 is a problem, the rest is checked", () => {
  const enc = new TextEncoder();
  const bytes = new Uint8Array([...enc.encode("a{x=\""), 0xff, ...enc.encode("\"} 1\nb -1\n# EOF\n")]);
  const report = validateBytes(bytes);
  assert.deepStrictEqual(report.problems.map((p) => [p.line, p.kind]), [[1, "InvalidUtf8"]]);
});

test("every LiteLLM capture is valid, as the native tests say", () => {
  for (const name of readdirSync(fixtures).filter((n) => n.endsWith(".prom") || n.endsWith(".openmetrics.txt"))) {
    const bytes = readFileSync(join(fixtures, name));
    const report = validateBytes(bytes);
    assert.equal(report.valid, true, `${name}: ${JSON.stringify(report.problems.slice(0, 3))}`);
    assert.equal(report.format, name.endsWith(".prom") ? "prometheus" : "openmetrics", name);
    assert.deepStrictEqual(validate(bytes.toString("utf8")), report, name);
  }
});

test("the main module does not carry the validator", () => {
  const main = readFileSync(join(pkgNode, "pulse_wasm.d.ts"), "utf8");
  assert.doesNotMatch(main, /validate/i);
  const pkg = JSON.parse(readFileSync(join(pkgNode, "package.json"), "utf8"));
  for (const f of ["pulse_validate.js", "pulse_validate_bg.wasm", "pulse_validate.d.ts"]) {
    assert.ok(pkg.files.includes(f), `${f} is in the package's files`);
    assert.ok(statSync(join(pkgNode, f)).size > 0, f);
  }
  const dts = readFileSync(join(pkgNode, "pulse_validate.d.ts"), "utf8");
  assert.doesNotMatch(dts, /\bany\b/);
  assert.match(dts, /export function validate\(/);
});
