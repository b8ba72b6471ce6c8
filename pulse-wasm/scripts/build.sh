#!/usr/bin/env bash
# Builds the npm packages of pulse-wasm for the web, Node and bundlers:
#   pulse-wasm/pkg-web, pulse-wasm/pkg-node, pulse-wasm/pkg-bundler
#
# Nothing is downloaded: wasm-pack runs with `--mode no-install` (it uses the
# wasm-bindgen CLI on PATH, which must match the pinned crate version) and
# `--no-opt` (wasm-opt = false in Cargo.toml too).
#
# wasm-opt is off on purpose. Debian's binaryen (version 108) corrupts this
# module: even a plain read/write with no passes re-points the
# `__wbindgen_externrefs` export at the funcref table, so the module fails
# at start-up with "WebAssembly.Table.set(): Argument 1 is invalid". Its -Oz
# also made the gzipped file larger (the chrono-tz data compresses worse
# after it re-lays the data segments). Set WASM_OPT=/path/to/wasm-opt to use
# a fixed binaryen.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

pinned="$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' "$root/Cargo.toml")"
have="$(wasm-bindgen --version | awk '{print $2}')"
if [ "$pinned" != "$have" ]; then
  echo "wasm-bindgen CLI $have does not match the pinned crate $pinned" >&2
  echo "install it with: cargo install wasm-bindgen-cli --version $pinned --locked" >&2
  exit 1
fi
wasm_opt="${WASM_OPT:-}"

# The wasm's own release settings; the host's profile is untouched because
# these variables apply to this build alone, in its own target dir.
# opt-level 3, not "z": measured on the 10 MB body, "z" saves 12 KB gzipped
# (225 vs 237 KB) but makes parsing 2-3x slower, missing the 20x family-totals
# goal against parse-prometheus-text-format. PULSE_WASM_OPT_LEVEL=z overrides.
# Also measured, gzipped: per-package opt levels do not help (with fat LTO
# the root's level re-optimises everything; "z" with pulse-core at 3 gives
# 239 KB with fat, thin or no LTO); binaryen 132 -Oz saves only 1 KB of code
# and costs 20 KB when its memory-packing splits the data; dropping
# console_error_panic_hook saves under 1 KB. The floor is the data segment:
# 144 KB gzipped, of which chrono-tz's transition tables are about 110 KB.
export CARGO_TARGET_DIR="$root/target/wasm"
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${PULSE_WASM_OPT_LEVEL:-3}"
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_STRIP=none
export CARGO_PROFILE_RELEASE_DEBUG=false

for target in web nodejs bundler; do
  case "$target" in
    nodejs) out=pkg-node ;;
    *) out="pkg-$target" ;;
  esac
  rm -rf "$here/$out"
  wasm-pack --quiet build "$here" --release --mode no-install --no-opt \
    --target "$target" --out-dir "$out" --out-name pulse_wasm
  wasm="$here/$out/pulse_wasm_bg.wasm"
  if [ -n "$wasm_opt" ]; then
    "$wasm_opt" -Oz --all-features "$wasm" -o "$wasm.opt"
    mv "$wasm.opt" "$wasm"
  fi
  node "$here/scripts/strip-custom.mjs" "$wasm"
  cp "$root/LICENSE" "$here/$out/LICENSE"
  node "$here/scripts/package-json.mjs" "$here/$out" "$target"
done

gz="$(gzip -9 -c "$here/pkg-web/pulse_wasm_bg.wasm" | wc -c)"
raw="$(wc -c < "$here/pkg-web/pulse_wasm_bg.wasm")"
echo "pulse_wasm_bg.wasm: $raw bytes, $gz bytes gzipped (limit 204800)"
if [ "$gz" -gt 204800 ]; then
  echo "warning: the gzipped .wasm is over 200 KB" >&2
fi
