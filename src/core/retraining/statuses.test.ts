import { describe, expect, it } from "vitest";
import { decodeRetrainRequest } from "./request-message.ts";
import { canMoveTo, isFinalStatus, RETRAINING_STATUSES } from "./statuses.ts";
import { csvHeader, csvLine, ndjsonLine } from "./training-set-export.ts";

describe("the retraining status machine", () => {
  it.each([
    ["requested", "training", true],
    ["training", "candidate", true],
    ["candidate", "challenger", true],
    ["challenger", "promoted", true],
    ["challenger", "rolled-back", true],
    ["needs-external-trainer", "candidate", true],
    ["requested", "challenger", false],
    ["promoted", "rolled-back", false],
    ["rejected", "training", false],
    ["challenger", "challenger", false],
    ["no-such-status", "training", false],
  ] as const)("%s → %s allowed: %s", (from, to, allowed) => {
    expect(canMoveTo(from, to)).toBe(allowed);
  });

  it("every status but the four in progress is final", () => {
    expect(RETRAINING_STATUSES.filter((s) => !isFinalStatus(s))).toEqual([
      "requested",
      "training",
      "candidate",
      "challenger",
    ]);
  });
});

describe("decodeRetrainRequest", () => {
  const valid = {
    schemaVersion: 1,
    requestId: "r-1",
    tenant: "acme",
    model: "conversion",
    version: "3",
    policy: "psi-above(0.25, consecutive=3)",
    reasons: ["PSI 0.4 on cart_value"],
    evidence: { fired: [] },
    requestedAt: "2026-12-01T10:00:00.000Z",
    futureField: true,
  };

  it("reads the stream processor's message and keeps fields it does not know", () => {
    const d = decodeRetrainRequest(JSON.stringify(valid));
    expect(d).toMatchObject({ ok: true, request: { tenant: "acme", futureField: true } });
  });

  it.each([
    [null, "empty value"],
    ["{", "value is not JSON"],
    [JSON.stringify({ ...valid, tenant: "a b" }), /^tenant: /],
    [JSON.stringify({ ...valid, schemaVersion: 2 }), /^schemaVersion: /],
    [JSON.stringify({ ...valid, requestedAt: "yesterday" }), /^requestedAt: /],
  ])("refuses %s with a reason", (value, reason) => {
    const d = decodeRetrainRequest(value);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.reason).toMatch(reason);
  });
});

describe("the training-set export", () => {
  const row = {
    features: { age: 31, plan: 'pro, "x"', note: "line\nbreak" },
    label: true,
    predictedAtMs: Date.UTC(2026, 11, 1),
  };

  it("writes RFC 4180 CSV: quoted fields, doubled quotes, CRLF, missing values empty", () => {
    expect(csvHeader(["age", "plan", "note", "gone"])).toBe("age,plan,note,gone,label,time\r\n");
    expect(csvLine(["age", "plan", "note", "gone"], row)).toBe(
      '31,"pro, ""x""","line\nbreak",,1,2026-12-01T00:00:00.000Z\r\n',
    );
  });

  it("writes one JSON object per line, features in the given order", () => {
    expect(ndjsonLine(["plan", "age"], row)).toBe(
      '{"features":{"plan":"pro, \\"x\\"","age":31},"label":1,"time":"2026-12-01T00:00:00.000Z"}\n',
    );
  });
});
