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
# opt-level 3, not "z" or "s": measured on the 10 MB body, "s" saves 3 KB
# gzipped but makes familyTotals and parse about 2x slower in Node ("z" saves
# 12 KB and is 2-3x slower). PULSE_WASM_OPT_LEVEL=z overrides.
# What did shrink it (gzipped, 237,474 -> 196,097 bytes), by analysing a
# named build (wasm-bindgen --keep-debug, twiggy top/paths, and gzip of the
# code section with one function zeroed to see what each really costs):
#   num::clean rounds with integers instead of format!("{:.11e}"): -7.9 KB
#     (all of core's flt2dec); num::parse_f64 replaces str::parse::<f64>:
#     -12 KB (dec2flt's 10 KB power-of-five table does not compress);
#   one non-generic merge sort for track.rs' three std sorts: -8.6 KB;
#   talc instead of dlmalloc as the allocator: -2.5 KB;
#   sampleTotals through the parser, not a second lexer: -3.2 KB;
#   label values interned as written, their escapes copied straight into
#   the JSON string table (no Cow-keyed map): -1.0 KB;
#   the parser finds `# EOF` with memchr_iter, not memmem: -4.1 KB;
#   FxHash (rustc-hash) instead of SipHash in the core: -1.7 KB;
#   a small panic hook (src/js/panic.js) instead of the
#   console_error_panic_hook crate: -0.3 KB; target_features dropped: -0.1 KB;
#   totals as names borrowed from the body, not owned Strings: -0.1 KB;
#   family totals through the core's per-name summing (parse::family_totals):
#   -0.2 KB.
# Measured and not worth it: per-package opt levels (with fat LTO the root's
# level re-optimises everything), -inline-threshold=100 (-1 KB), path
# remapping of panic locations (-0.2 KB), merging HashMap monomorphs (gzip
# already shares their bytes), talc's disable-realloc-in-place (-0.15 KB),
# dropping the panic hook altogether (-0.4 KB more), building the
# Observation object in JS (+0.1 KB), `Label::value` not inlined (0),
# quoting error text without `{:?}` (-0.04 KB: slicing panics keep
# core's Unicode tables), binaryen 132 -Oz (-1 KB of
# code, +20 KB when memory-packing splits the data). bulk-memory is already
# on by default for wasm32 in this Rust. The floor is chrono-tz: its
# transition tables and zone match are about 128 KB of the gzipped file.
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
