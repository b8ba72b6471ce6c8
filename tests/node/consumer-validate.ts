// A consumer of the package's second module, the strict validator,
// type-checked by types.test.mjs. The @ts-expect-error lines prove the
// declarations are precise.
import { validate, validateBytes } from "../../pulse-wasm/pkg-node/pulse_validate.js";
import type { Problem, ProblemKind, ValidationReport } from "../../pulse-wasm/pkg-node/pulse_validate.js";
import initValidate, { validate as validateWeb } from "../../pulse-wasm/pkg-web/pulse_validate.js";

const report: ValidationReport = validate("# TYPE a counter\na_total -1\n# EOF\n");
const valid: boolean = report.valid;
const format: "openmetrics" | "prometheus" = report.format;
const first: Problem | undefined = report.problems[0];
const line: number = first?.line ?? 0;
const kind: ProblemKind | undefined = first?.kind;
const message: string = first?.message ?? "";
const strict: ValidationReport = validateBytes(new TextEncoder().encode("a 1\n"), "openmetrics");
const auto: ValidationReport = validate("a 1\n", "auto");

export async function inBrowser(body: string): Promise<boolean> {
  await initValidate();
  return validateWeb(body, "prometheus").valid;
}

// @ts-expect-error: the format is a closed set
validate("a 1\n", "yaml");
// @ts-expect-error: a problem kind is a closed set
const wrongKind: ProblemKind = "NegativeValues";
// @ts-expect-error: line is a number
const lineText: string = first?.line ?? "";

export const used = [valid, format, line, kind, message, strict, auto, wrongKind, lineText];
