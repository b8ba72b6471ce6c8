// A consumer of the browser package (`--target web`), type-checked by
// types.test.mjs: the default export initialises the module.
import init, { parse, windowRange } from "../../pulse-wasm/pkg-web/pulse_wasm.js";
import type { Exposition, TimeRange } from "../../pulse-wasm/pkg-web/pulse_wasm.js";

export async function firstFamily(body: string): Promise<string | null> {
  await init();
  const expo: Exposition = parse(body);
  const range: TimeRange = windowRange("7d", Date.now(), "UTC");
  return range.startMs < range.endMs ? (expo.families[0]?.name ?? null) : null;
}
