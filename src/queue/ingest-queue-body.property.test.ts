// Property: the queue consumer's body decoder never throws, and a bundle's well-formed records
// come out whole and in order whatever malformed records share the bundle with them.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ingestBundleText, ingestMessageText, parseIngestQueueBody } from "./ingest-queue-body";

const hostile = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
);
/** JSON texts that are not queue records: any value, nested deep, or a record with a bad field. */
const badRecordJson = fc.oneof(
  fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.integer({ min: 1, max: 5_000 }).map((n) => `${"[".repeat(n)}${"]".repeat(n)}`),
  fc
    .record({
      topic: fc.string({ unit: "binary", maxLength: 8 }),
      key: fc.constantFrom("", 7, null),
    })
    .map((r) => JSON.stringify({ ...r, value: {} })),
);
const goodRecord = fc
  .record({
    topic: fc.constantFrom("events", "capi", "predictions"),
    id: fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }),
    value: fc.jsonValue({ maxDepth: 3 }),
  })
  .map((r) => ({ ...r, key: `acme:${r.id}` }));

describe("parseIngestQueueBody", { timeout: 60_000 }, () => {
  it("never throws, whatever the body (property)", () => {
    fc.assert(
      fc.property(fc.oneof(hostile, fc.anything()), (body) => {
        const parsed = parseIngestQueueBody(body);
        expect(["message", "bundle", "malformed"]).toContain(parsed.kind);
      }),
      { numRuns: 2_000 },
    );
  });

  it("keeps every well-formed record of a bundle beside malformed ones (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            goodRecord.map((r) => ({ good: r })),
            badRecordJson.map((b) => ({ bad: b })),
          ),
          {
            minLength: 1,
            maxLength: 30,
          },
        ),
        (items) => {
          const texts = items.map((i) =>
            "good" in i
              ? ingestMessageText(i.good.topic, i.good.key, JSON.stringify(i.good.value ?? null))
              : i.bad,
          );
          const parsed = parseIngestQueueBody(ingestBundleText(texts, 2));
          if (parsed.kind !== "bundle") throw new Error(`not a bundle: ${JSON.stringify(parsed)}`);
          const good = items.flatMap((i) => ("good" in i ? [i.good] : []));
          expect(parsed.records.map((r) => r.key)).toEqual(good.map((g) => g.key));
          expect(parsed.records.length + parsed.malformed.length).toBe(items.length);
          expect(parsed.attempts).toBe(2);
        },
      ),
      { numRuns: 500 },
    );
  });
});
