// Drops the `name`, `producers` and `target_features` custom sections of a
// .wasm file in place. They only serve debuggers, telemetry and linkers
// (engines read the code itself); wasm-pack offers no switch for
// wasm-bindgen's --remove-name-section. Custom sections carry no semantics,
// so removing them cannot change behaviour.
import { readFileSync, writeFileSync } from "node:fs";

const DROP = new Set(["name", "producers", "target_features"]);
const path = process.argv[2];
const bytes = readFileSync(path);
if (bytes.readUInt32LE(0) !== 0x6d736100) {
  throw new Error(`${path} is not a wasm module`);
}

function leb(buf, at) {
  let value = 0;
  let shift = 0;
  let pos = at;
  for (;;) {
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value, pos];
  }
}

const keep = [bytes.subarray(0, 8)];
let pos = 8;
while (pos < bytes.length) {
  const start = pos;
  const id = bytes[pos];
  const [len, body] = leb(bytes, pos + 1);
  const end = body + len;
  let drop = false;
  if (id === 0) {
    const [nameLen, nameAt] = leb(bytes, body);
    drop = DROP.has(bytes.subarray(nameAt, nameAt + nameLen).toString("utf8"));
  }
  if (!drop) keep.push(bytes.subarray(start, end));
  pos = end;
}
writeFileSync(path, Buffer.concat(keep));
