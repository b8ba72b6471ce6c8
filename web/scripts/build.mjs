// Builds web/dist: the page, the browser build of pulse-wasm and uPlot.
// Nothing is fetched at run time: every file the page loads is in dist/.
//
//   npm run build            (builds pulse-wasm first when pkg-web is missing)
//   npm run build -- --wasm  (always rebuilds pulse-wasm)
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const web = fileURLToPath(new URL("..", import.meta.url));
const root = join(web, "..");
const dist = join(web, "dist");
const pkg = join(root, "pulse-wasm", "pkg-web");

if (process.argv.includes("--wasm") || !existsSync(join(pkg, "pulse_wasm_bg.wasm"))) {
  execFileSync("bash", [join(root, "pulse-wasm", "scripts", "build.sh")], { stdio: "inherit" });
}

rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "pkg"), { recursive: true });
mkdirSync(join(dist, "vendor"), { recursive: true });

// Every file of src/: the page, its modules (app.js imports the others) and styles.
for (const f of readdirSync(join(web, "src"))) {
  cpSync(join(web, "src", f), join(dist, f));
}
for (const f of ["pulse_wasm.js", "pulse_wasm_bg.wasm", "snippets"]) {
  cpSync(join(pkg, f), join(dist, "pkg", f), { recursive: true });
}
const uplot = dirname(createRequire(import.meta.url).resolve("uplot/package.json"));
cpSync(join(uplot, "dist", "uPlot.esm.js"), join(dist, "vendor", "uPlot.esm.js"));
cpSync(join(uplot, "dist", "uPlot.min.css"), join(dist, "vendor", "uPlot.min.css"));
cpSync(join(uplot, "LICENSE"), join(dist, "vendor", "uPlot.LICENSE"));

// Beside every file, its gzip at the best level: the binary embeds only these
// (`pulse-host/src/dashboard`), serves them as they are to browsers that
// accept gzip and decompresses them for the rest. gzip's header carries no
// name or time here, so the same files give the same bytes (and ETags).
const files = readdirSync(dist, { recursive: true })
  .map((f) => join(dist, f))
  .filter((f) => statSync(f).isFile());
let plain = 0;
let packed = 0;
for (const f of files) {
  const data = readFileSync(f);
  const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${f}.gz`, gz);
  plain += data.length;
  packed += gz.length;
}
console.log(`built ${dist}: ${files.length} files, ${plain} bytes, ${packed} gzipped`);
