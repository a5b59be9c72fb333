import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readForwardable } from "./forwardable-message";

/** The reference: what JSON.parse makes of the same text. */
function expected(text: string) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const m = json as Record<string, unknown>;
  if (typeof m.tenant !== "string") return undefined;
  if (typeof m.event !== "object" || m.event === null || Array.isArray(m.event)) return undefined;
  return {
    tenant: m.tenant,
    ...(typeof m.source === "string" ? { source: m.source } : {}),
    ...(typeof m.pixelId === "string" ? { pixelId: m.pixelId } : {}),
    ...(typeof m.testEventCode === "string" ? { testEventCode: m.testEventCode } : {}),
    event: m.event,
  };
}

function actual(text: string) {
  const read = readForwardable(Buffer.from(text, "utf8"));
  if (read === undefined) return undefined;
  const { eventJson, ...envelope } = read;
  return { ...envelope, event: JSON.parse(eventJson) as unknown };
}

/** JSON text of `value` with arbitrary (legal) whitespace between tokens. */
const spaced = (value: unknown, pad: string) =>
  JSON.stringify(value, null, pad.length === 0 ? undefined : pad.replace(/[^ \t\n\r]/g, " "));

const message = fc.record(
  {
    tenant: fc.oneof(fc.string(), fc.integer()),
    source: fc.constantFrom("web", "capi", 3),
    pixelId: fc.oneof(fc.stringMatching(/^[0-9]{1,16}$/), fc.constant(null)),
    testEventCode: fc.string(),
    event: fc.oneof(fc.jsonValue(), fc.dictionary(fc.string(), fc.jsonValue())),
    other: fc.jsonValue(),
  },
  { requiredKeys: [] },
);

describe("readForwardable", () => {
  it("reads what JSON.parse reads, for any message, however spaced", () => {
    fc.assert(
      fc.property(message, fc.constantFrom("", " ", "\t", "\n  ", "\r\n"), (m, pad) => {
        const text = spaced(m, pad);
        expect(actual(text)).toEqual(expected(text));
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses exactly the texts JSON.parse refuses (truncated or altered messages)", () => {
    const base = fc.record({
      tenant: fc.string(),
      event: fc.dictionary(fc.string(), fc.jsonValue()),
    });
    fc.assert(
      fc.property(
        base,
        fc.nat(),
        fc.constantFrom(
          "",
          "x",
          "}",
          "]",
          ",",
          '"',
          "\\",
          "\u0001",
          "-",
          "0",
          "e",
          "tru",
          "1.",
          "{",
        ),
        fc.boolean(),
        (m, at, insert, cut) => {
          const text = JSON.stringify(m);
          const i = at % (text.length + 1);
          const altered = cut ? text.slice(0, i) : text.slice(0, i) + insert + text.slice(i + 1);
          expect(actual(altered)).toEqual(expected(altered));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("keeps the event text byte for byte, escapes and all", () => {
    const event =
      '{"event_name":"Purchase","x":"a\\"b\\u00e9\\n","n":-1.5e+3,"u":[true,false,null]}';
    const text = `{"tenant":"t\\u0031","event":${event},"pixelId":"42"}`;
    expect(readForwardable(Buffer.from(text))).toEqual({
      tenant: "t1",
      pixelId: "42",
      eventJson: event,
    });
  });

  it("leaves anything else to the metrics' dead letters", () => {
    for (const bad of [
      "not json",
      "[]",
      '{"tenant":1,"event":{}}',
      '{"tenant":"a"}',
      '"x"',
      "{}",
      "",
      '{"tenant":"a","event":{}} x',
    ]) {
      expect(readForwardable(Buffer.from(bad)), bad).toBeUndefined();
    }
    expect(readForwardable(null)).toBeUndefined();
    expect(
      readForwardable(Buffer.from(`{"tenant":"a","event":${"[".repeat(100)}${"]".repeat(100)}}`)),
    ).toBeUndefined();
  });
});
