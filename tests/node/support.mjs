// Shared paths for the Node tests of pulse-wasm. The npm dependencies live in
// web/node_modules (one package.json for the dashboard and these tests).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const root = fileURLToPath(new URL("../../", import.meta.url));
export const fixtures = join(root, "tests", "fixtures", "litellm");
export const pkgNode = join(root, "pulse-wasm", "pkg-node");
export const requireWeb = createRequire(join(root, "web", "package.json"));

/** The Node build of pulse-wasm (built by pulse-wasm/scripts/build.sh). */
export function loadPulse() {
  const entry = join(pkgNode, "pulse_wasm.js");
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run pulse-wasm/scripts/build.sh first`);
  }
  return createRequire(import.meta.url)(entry);
}

/** The package's second module: the strict validator (pulse_validate.js). */
export function loadValidate() {
  const entry = join(pkgNode, "pulse_validate.js");
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run pulse-wasm/scripts/build.sh first`);
  }
  return createRequire(import.meta.url)(entry);
}

/** JSON has no NaN or infinities: write them as strings, as the native side does. */
export function finiteJson(value) {
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (value === Infinity) return "Infinity";
    if (value === -Infinity) return "-Infinity";
    return value;
  }
  if (Array.isArray(value)) return value.map(finiteJson);
  if (value !== null && typeof value === "object") {
    const out = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: finiteJson(value[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
