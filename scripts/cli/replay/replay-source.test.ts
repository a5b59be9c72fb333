/** Replay files: records with exact end offsets, so a resume from any offset reads the rest. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { eventFromCsvRow, formatOf, type ReplayRecord, readReplayRecords } from "./replay-source";

const dir = mkdtempSync(join(tmpdir(), "driftline-replay-"));
function fileWith(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

async function all(file: string, from?: { offset: number; line: number }) {
  const out: ReplayRecord[] = [];
  for await (const r of readReplayRecords(file, formatOf(file), from)) out.push(r);
  return out;
}

describe("NDJSON", () => {
  const lines = ['{"a":1}', "", '{"b":"é€"}', '{"em": jane@example.com}', '{"c":3}'];
  it("yields each non-blank line with its number and the byte offset past it (LF and CRLF)", async () => {
    for (const eol of ["\n", "\r\n"]) {
      const text = lines.join(eol) + eol;
      const records = await all(fileWith(`x${eol.length}.ndjson`, text));
      expect(records.map((r) => r.line)).toEqual([1, 3, 4, 5]);
      expect(records.map((r) => r.event)).toEqual([{ a: 1 }, { b: "é€" }, undefined, { c: 3 }]);
      expect(records[2]?.problem).toMatch(/^not JSON: a syntax error/);
      // The line may hold personal data: the reason never quotes it.
      expect(records[2]?.problem).not.toContain("jane");
      // Brute force: the offset past line n is the byte length of lines 1..n with their endings.
      const expected = [1, 3, 4, 5].map((n) =>
        Buffer.byteLength(lines.slice(0, n).join(eol) + eol),
      );
      expect(records.map((r) => r.endOffset)).toEqual(expected);
    }
  });

  it("a last line without a newline ends at the end of the file", async () => {
    const text = '{"a":1}\n{"b":2}';
    const records = await all(fileWith("nolf.ndjson", text));
    expect(records.at(-1)).toMatchObject({ line: 2, endOffset: Buffer.byteLength(text) });
  });

  it("resuming from any record's end offset reads exactly the records after it", async () => {
    const text = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({ i, pad: "x".repeat(i * 37) }),
    ).join("\n");
    const file = fileWith("many.ndjson", text);
    const records = await all(file);
    for (const cut of [0, 1, 17, 49]) {
      const from = records[cut]!;
      const rest = await all(file, { offset: from.endOffset, line: from.line });
      expect(rest).toEqual(records.slice(cut + 1));
    }
  });
});

describe("CSV", () => {
  const text = [
    "event_name,event_time,event_id,user_data.em,custom_data.value,custom_data.contents,opt_out",
    'Purchase,1765000000,e1,A@B.example,12.50,"[{""id"":""p1"",""quantity"":2}]",false',
    'Lead,2026-12-07T10:00:00Z,e2,"multi\nline",,,',
    "View,1765000002,e3,,,,true",
  ].join("\n");

  it("rows become nested events; header not counted; offsets let a resume read the rest", async () => {
    const file = fileWith("events.csv", `${text}\n`);
    const records = await all(file);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3]);
    expect(records[0]?.event).toEqual({
      event_name: "Purchase",
      event_time: 1765000000,
      event_id: "e1",
      user_data: { em: "A@B.example" },
      custom_data: { value: "12.50", contents: [{ id: "p1", quantity: 2 }] },
      opt_out: false,
    });
    expect(records[1]?.event).toEqual({
      event_name: "Lead",
      event_time: "2026-12-07T10:00:00Z",
      event_id: "e2",
      user_data: { em: "multi\nline" },
    });
    const rest = await all(file, { offset: records[0]!.endOffset, line: 1 });
    expect(rest).toEqual(records.slice(1));
  });

  it("formatOf goes by the extension", () => {
    expect(formatOf("a.CSV")).toBe("csv");
    expect(formatOf("a.ndjson")).toBe("ndjson");
    expect(formatOf("a.jsonl")).toBe("ndjson");
  });

  it("eventFromCsvRow keeps text that only looks like JSON", () => {
    expect(eventFromCsvRow({ "custom_data.note": "[not json" })).toEqual({
      custom_data: { note: "[not json" },
    });
  });
});
