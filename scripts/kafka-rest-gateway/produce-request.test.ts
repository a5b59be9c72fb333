// Property: the gateway's produce-body decoder takes any JSON without throwing anything but a
// ValidationError, and every body it accepts encodes to Kafka record bytes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isDriftlineError } from "#core/errors";
import { describeIssues, encodeRecord, ProduceBatchEntry, ProduceRequest } from "./produce-request";

const text = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("\ud800", "\u0000", "😀", "QUJD", "QUI=", "not base64!"),
);
const data = fc.record(
  {
    type: fc.oneof(fc.constantFrom("JSON", "STRING", "BINARY"), text),
    data: fc.oneof(text, fc.jsonValue({ stringUnit: "binary", maxDepth: 3 }), fc.constant(null)),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }),
  fc.record(
    {
      id: text,
      partition_id: fc.oneof(fc.integer(), fc.double(), fc.constant(null)),
      headers: fc.oneof(
        fc.array(fc.record({ name: text, value: fc.oneof(text, fc.constant(null)) })),
        fc.jsonValue(),
      ),
      key: fc.oneof(data, fc.constant(null)),
      value: fc.oneof(data, fc.jsonValue()),
      timestamp: fc.oneof(
        text,
        fc.date().map((d) => (Number.isNaN(d.getTime()) ? "x" : d.toISOString())),
      ),
    },
    { requiredKeys: [] },
  ),
);

describe("produce request decoding", { timeout: 60_000 }, () => {
  it("refuses with field issues or encodes; never throws otherwise (property)", () => {
    fc.assert(
      fc.property(body, (b) => {
        for (const schema of [ProduceRequest, ProduceBatchEntry]) {
          const parsed = schema.safeParse(b);
          if (!parsed.success) {
            const error = describeIssues(parsed.error);
            expect(isDriftlineError(error) && error.code === "VALIDATION").toBe(true);
            continue;
          }
          const encoded = encodeRecord(parsed.data, 1_000);
          for (const bytes of [encoded.record.key, encoded.record.value]) {
            expect(bytes === null || Buffer.isBuffer(bytes)).toBe(true);
          }
          expect(Number.isFinite(encoded.record.timestampMs)).toBe(true);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
