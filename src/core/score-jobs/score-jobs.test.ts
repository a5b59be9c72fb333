import { describe, expect, it } from "vitest";
import { encodeFeatureRow, type ManifestFeature } from "../model-manifest.ts";
import { createRandom } from "../random/index.ts";
import { parseCsvRecord } from "./csv-record.ts";
import { resultCsvLine, resultNdjsonLine } from "./job-results.ts";
import { csvRow, ndjsonRow, readCsvHeader } from "./job-rows.ts";
import { RecordSplitter } from "./record-splitter.ts";

const FEATURES: ManifestFeature[] = [
  { name: "a", type: "number" },
  { name: "b", type: "number", default: 2 },
  { name: "c", type: "categorical", categories: ["x", "y"] },
] as ManifestFeature[];

/** Every split of `text` into two pushes gives the same records as one push. */
function splitAll(format: "csv" | "ndjson", text: string, cuts: number[]): string[] {
  const s = new RecordSplitter(format, 1_000);
  const out: string[] = [];
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    out.push(...s.push(text.slice(from, cut), out.length + 1));
    from = cut;
  }
  out.push(...s.end(out.length + 1));
  return out;
}

describe("RecordSplitter", () => {
  const csv = 'a,b\r\n1,"x\ny"\n\n2,"he said ""hi"""\n3,4';
  const expected = ["a,b", '1,"x\ny"', '2,"he said ""hi"""', "3,4"];

  it("splits CSV at line breaks outside quotes, wherever the text is cut", () => {
    for (let cut = 0; cut <= csv.length; cut++) {
      expect(splitAll("csv", csv, [cut])).toEqual(expected);
    }
    expect(
      splitAll(
        "csv",
        csv,
        Array.from({ length: csv.length }, (_, i) => i),
      ),
    ).toEqual(expected);
  });

  it("splits NDJSON at every line break, skipping blank lines", () => {
    const text = '{"a":1}\n\n  \n{"a":"x\\ny"}\r\n{"a":3}';
    for (let cut = 0; cut <= text.length; cut++) {
      expect(splitAll("ndjson", text, [cut])).toEqual(['{"a":1}', '{"a":"x\\ny"}', '{"a":3}']);
    }
  });

  it("refuses a record longer than the limit, and an unclosed quote at the end", () => {
    const s = new RecordSplitter("csv", 10);
    expect(() => s.push('1,"never closed, and then some more', 7)).toThrow(/Row 7 .*never closed/);
    const t = new RecordSplitter("csv", 100);
    t.push('1,"open', 1);
    expect(() => t.end(1)).toThrow(/never closed/);
  });
});

describe("parseCsvRecord", () => {
  it.each([
    ["1,2,3", ["1", "2", "3"]],
    ["", [""]],
    [",", ["", ""]],
    ['"a,b",c', ["a,b", "c"]],
    ['"a ""q"" b",', ['a "q" b', ""]],
    ['x"y,z', ['x"y', "z"]],
    ['"line\nbreak"', ["line\nbreak"]],
  ])("%j → %j", (record, fields) => {
    expect(parseCsvRecord(record)).toEqual(fields);
  });

  it("reports text after a closing quote", () => {
    expect(parseCsvRecord('"a"b,c')).toEqual({ error: "text after the closing quote of field 1" });
  });
});

describe("job rows", () => {
  it("needs a header naming a feature, unique and non-empty", () => {
    expect(readCsvHeader("entityId,a,c,other", FEATURES)).toEqual(["entityId", "a", "c", "other"]);
    expect(() => readCsvHeader("1,2,3", FEATURES)).toThrow(/header row/);
    expect(() => readCsvHeader("a,a", FEATURES)).toThrow(/twice/);
    expect(() => readCsvHeader("a,,c", FEATURES)).toThrow(/no name/);
  });

  it("encodes CSV rows by the manifest: numbers, categories, defaults, entity ids", () => {
    const header = ["entityId", "a", "c", "other"];
    expect(csvRow(header, "u-1, 1.5e1 ,y,zzz", 4, FEATURES)).toEqual({
      ok: true,
      row: { row: 4, entityId: "u-1", values: [15, 2, 1] },
    });
    // Unknown categories encode as −1, as /v1/score does.
    expect(csvRow(header, ",3,w,", 5, FEATURES)).toEqual({
      ok: true,
      row: { row: 5, values: [3, 2, -1] },
    });
  });

  it("turns bad CSV rows into per-row errors naming the field", () => {
    const header = ["a", "b", "c"];
    expect(csvRow(header, "abc,1,x", 1, FEATURES)).toEqual({
      ok: false,
      error: { row: 1, field: "a", message: "must be a number" },
    });
    expect(csvRow(header, "1,2", 2, FEATURES)).toMatchObject({
      ok: false,
      error: { row: 2, field: "(row)", message: "has 2 fields; the header has 3 columns" },
    });
    expect(csvRow(header, ",1,x", 3, FEATURES)).toMatchObject({
      ok: false,
      error: { row: 3, field: "a", message: "is missing and the model has no default for it" },
    });
  });

  it("encodes CSV exactly as encodeFeatureRow does the same values (2,000 random rows)", () => {
    const random = createRandom(11);
    const pick = <T>(xs: readonly T[]): T => xs[random.int(xs.length)]!;
    const header = ["c", "entityId", "a", "extra", "b"];
    for (let i = 0; i < 2_000; i++) {
      const a = pick(["", "1", "-2.5", "1e3", " 7 ", "x", ".5"]);
      const b = pick(["", "0", "3.25"]);
      const c = pick(["", "x", "y", "z", "X"]);
      const record = [c, pick(["", "id-1"]), a, "whatever", b].join(",");
      const fast = csvRow(header, record, i + 1, FEATURES);
      // The reference: the values as /v1/score would receive them, encoded by the manifest's rules.
      const values: Record<string, unknown> = {};
      if (a !== "") values.a = /^\s*[-+.\d][\d.e+-]*\s*$/.test(a) ? Number(a) : a;
      if (b !== "") values.b = Number(b);
      if (c !== "") values.c = c;
      const reference = encodeFeatureRow(FEATURES, values, "");
      if (reference.ok) {
        expect(fast.ok, record).toBe(true);
        if (fast.ok) expect(fast.row.values, record).toEqual(reference.values);
      } else {
        expect(fast.ok, record).toBe(false);
        if (!fast.ok) expect(fast.error.field).toBe(reference.issues[0]!.field.slice(1));
      }
    }
  });

  it("reads NDJSON rows in both shapes and reports bad lines", () => {
    expect(ndjsonRow('{"entityId":"e","features":{"a":1,"c":"x"}}', 1, FEATURES)).toEqual({
      ok: true,
      row: { row: 1, entityId: "e", values: [1, 2, 0] },
    });
    expect(ndjsonRow('{"a":1,"b":5,"c":"y","entityId":"f"}', 2, FEATURES)).toEqual({
      ok: true,
      row: { row: 2, entityId: "f", values: [1, 5, 1] },
    });
    expect(ndjsonRow("{nope", 3, FEATURES)).toMatchObject({ error: { field: "(row)" } });
    expect(ndjsonRow("[1]", 4, FEATURES)).toMatchObject({ error: { field: "(row)" } });
    expect(ndjsonRow('{"a":"1"}', 5, FEATURES)).toMatchObject({
      error: { row: 5, field: "a", message: "must be a finite number, got a string" },
    });
  });
});

describe("result lines", () => {
  it("renders stored NDJSON lines as CSV, quoting where needed", () => {
    const scored = resultNdjsonLine({ row: 1, entityId: "a,b", score: 0.25 });
    const failed = resultNdjsonLine({ row: 2, error: { field: "(row)", message: 'bad "x"' } });
    expect(resultCsvLine(scored.trim())).toBe('1,"a,b",0.25,,\n');
    expect(resultCsvLine(failed.trim())).toBe('2,,,(row),"bad ""x"""\n');
  });
});
