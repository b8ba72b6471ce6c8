// Rewrites the package.json that wasm-pack generated: the npm name, keywords
// and the files list (wasm-pack names the package after the crate).
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [dir, target] = process.argv.slice(2);
const path = join(dir, "package.json");
const pkg = JSON.parse(readFileSync(path, "utf8"));
const suffix = { web: "", nodejs: "-node", bundler: "-bundler" }[target];
if (suffix === undefined) {
  throw new Error(`unknown target ${target}`);
}
pkg.name = `litellm-pulse-wasm${suffix}`;
pkg.description =
  "A correct Prometheus/OpenMetrics parser and LiteLLM spend delta math, compiled from Rust (pulse-core) to WebAssembly.";
pkg.license = "MIT";
pkg.repository = { type: "git", url: "https://github.com/litellm-pulse/litellm-pulse-rs" };
pkg.keywords = ["prometheus", "openmetrics", "parser", "litellm", "wasm", "timezone"];
pkg.types = "pulse_wasm.d.ts";
// The validator's module (pulse_validate.js and its .wasm) ships in the same package.
const validate = readdirSync(dir).filter((f) => f.startsWith("pulse_validate")).sort();
for (const f of ["LICENSE", "README.md", ...validate]) {
  if (!pkg.files.includes(f)) {
    pkg.files.push(f);
  }
}
writeFileSync(path, `${JSON.stringify(pkg, null, 2)}\n`);
