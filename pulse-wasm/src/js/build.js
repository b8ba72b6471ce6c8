// Builds the JS objects of a parsed body from the compact arrays that Rust
// fills. Creating objects here, in one call, is much faster than one
// wasm-to-JS call per property.

const TYPES = [
  "counter",
  "gauge",
  "histogram",
  "gaugehistogram",
  "summary",
  "info",
  "stateset",
  "untyped",
];
const FORMATS = [null, "prometheus", "openmetrics"];

// `__proto__` is a valid label and metric name; a plain assignment would
// replace the object's prototype instead of adding a property.
function put(obj, key, value) {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else {
    obj[key] = value;
  }
}

// `ints` layout (all u32):
//   header: format, familyCount, errorCount
//   family: name, type, help+1 (0 = none), unit+1 (0 = none), sampleCount
//     then per sample: name, line, labelCount, hasTimestamp, (labelName, labelValue) * labelCount
//   error: line, kind, message, snippet
// Strings are indexes into `stringsJson` (a JSON array); values and
// timestamps are read in sample order.
export function buildExposition(stringsJson, ints, values, timestamps) {
  const s = JSON.parse(stringsJson);
  let i = 0;
  let v = 0;
  const format = FORMATS[ints[i++]];
  const familyCount = ints[i++];
  const errorCount = ints[i++];
  const families = new Array(familyCount);
  for (let f = 0; f < familyCount; f++) {
    const name = s[ints[i++]];
    const type = TYPES[ints[i++]];
    const help = ints[i++];
    const unit = ints[i++];
    const sampleCount = ints[i++];
    const samples = new Array(sampleCount);
    for (let k = 0; k < sampleCount; k++) {
      const sampleName = s[ints[i++]];
      const line = ints[i++];
      const labelCount = ints[i++];
      const hasTimestamp = ints[i++];
      const labels = {};
      for (let l = 0; l < labelCount; l++) {
        put(labels, s[ints[i]], s[ints[i + 1]]);
        i += 2;
      }
      samples[k] = {
        name: sampleName,
        labels,
        value: values[v],
        timestampMs: hasTimestamp === 1 ? timestamps[v] : null,
        line,
      };
      v++;
    }
    families[f] = {
      name,
      type,
      help: help === 0 ? null : s[help - 1],
      unit: unit === 0 ? null : s[unit - 1],
      samples,
    };
  }
  const errors = new Array(errorCount);
  for (let e = 0; e < errorCount; e++) {
    errors[e] = {
      line: ints[i],
      kind: s[ints[i + 1]],
      message: s[ints[i + 2]],
      snippet: s[ints[i + 3]],
    };
    i += 4;
  }
  return { format, families, errors };
}

// Zips names and sums into a plain object (later names win, as in a Map).
export function buildTotals(stringsJson, values) {
  const names = JSON.parse(stringsJson);
  const out = {};
  for (let k = 0; k < names.length; k++) {
    put(out, names[k], values[k]);
  }
  return out;
}
