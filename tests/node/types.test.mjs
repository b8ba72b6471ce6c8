// The generated .d.ts must type-check a real consumer, and must be precise:
// consumer-node.ts has @ts-expect-error lines that only pass if the types
// reject wrong use (an `any` in the public surface would fail them).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { root, pkgNode, requireWeb } from "./support.mjs";

test("tsc --noEmit accepts the consumer files against the generated declarations", () => {
  const tsc = join(dirname(requireWeb.resolve("typescript/package.json")), "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", join(root, "tests", "node", "tsconfig.json")], {
    stdio: "inherit",
  });
});

test("the public declarations contain no `any`", () => {
  const dts = readFileSync(join(pkgNode, "pulse_wasm.d.ts"), "utf8");
  assert.doesNotMatch(dts, /\bany\b/);
});
