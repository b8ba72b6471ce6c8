// Encodes JS text into a buffer in the module's memory with the engine's own
// TextEncoder. wasm-bindgen's `&str` glue copies text char by char until the
// first non-ASCII one, which on a 10 MB all-ASCII body costs ~30 ms in Node;
// encodeInto takes ~2 ms.
const encoder = new TextEncoder();

// Encodes `text` from UTF-16 unit `from` into `into`; returns the units read
// and the bytes written.
export function encodeInto(text, from, into) {
  const { read, written } = encoder.encodeInto(from === 0 ? text : text.slice(from), into);
  return new Uint32Array([read, written]);
}
