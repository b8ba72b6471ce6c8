#!/usr/bin/env bash
# Builds the npm packages of pulse-wasm for the web, Node and bundlers:
#   pulse-wasm/pkg-web, pulse-wasm/pkg-node, pulse-wasm/pkg-bundler
# Each holds two WebAssembly modules: the main one (pulse_wasm.js, crate
# pulse-wasm) and the strict validator (pulse_validate.js, crate
# pulse-wasm/validate), a second small module so that the main one, with its
# 200,000-byte gzipped budget, does not carry validation.
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
# opt-level 3, not "z" or "s" (PULSE_WASM_OPT_LEVEL=z overrides). Why, and
# what each size saving measured: ARCHITECTURE.md, "The wasm size ledger".
export CARGO_TARGET_DIR="$root/target/wasm"
export CARGO_PROFILE_RELEASE_OPT_LEVEL="${PULSE_WASM_OPT_LEVEL:-3}"
export CARGO_PROFILE_RELEASE_LTO=fat
export CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1
export CARGO_PROFILE_RELEASE_STRIP=none
export CARGO_PROFILE_RELEASE_DEBUG=false
# Panic locations name a crates.io source by its crate directory alone, not
# by the registry's absolute path (about 40 bytes gzipped).
remap=""
for src in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/; do
  remap="$remap --remap-path-prefix=$src="
done
export RUSTFLAGS="${RUSTFLAGS:-}$remap"

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
  # The validator, built beside the main module into the same package.
  tmp="$here/$out/.validate"
  wasm-pack --quiet build "$here/validate" --release --mode no-install --no-opt \
    --target "$target" --out-dir "$tmp" --out-name pulse_validate
  if [ -n "$wasm_opt" ]; then
    "$wasm_opt" -Oz --all-features "$tmp/pulse_validate_bg.wasm" -o "$tmp/opt.wasm"
    mv "$tmp/opt.wasm" "$tmp/pulse_validate_bg.wasm"
  fi
  node "$here/scripts/strip-custom.mjs" "$tmp/pulse_validate_bg.wasm"
  mv "$tmp"/pulse_validate* "$here/$out/"
  rm -rf "$tmp"
  cp "$root/LICENSE" "$here/$out/LICENSE"
  node "$here/scripts/package-json.mjs" "$here/$out" "$target"
done

# The size budgets are invariants, not hints: 200,000 bytes gzipped for the
# main module, 60,000 for the validator.
status=0
budget() {
  local name="$1" limit="$2" gz raw
  gz="$(gzip -9 -c "$here/pkg-web/$name" | wc -c)"
  raw="$(wc -c < "$here/pkg-web/$name")"
  echo "$name: $raw bytes, $gz bytes gzipped (limit $limit)"
  if [ "$gz" -gt "$limit" ]; then
    echo "error: the gzipped $name is $gz bytes, over the $limit-byte budget" >&2
    status=1
  fi
}
budget pulse_wasm_bg.wasm 200000
budget pulse_validate_bg.wasm 60000
exit "$status"
