import { describe, expect, it } from "vitest";
import { auditInsertStatement, auditState } from "./audit-entry.ts";

describe("auditState", () => {
  it("drops secret-named fields at any depth and keeps the rest", () => {
    expect(
      auditState({
        id: "w1",
        secret: "whsec_x",
        nested: { token: "EAAB", tokenHint: "…1234", list: [{ apiKey: "dl_x", keyId: "k1" }] },
      }),
    ).toEqual({ id: "w1", nested: { tokenHint: "…1234", list: [{ keyId: "k1" }] } });
  });

  it("stores absent states as SQL NULL", () => {
    const { values } = auditInsertStatement({
      tenant: "acme",
      actor: { kind: "api-key", keyId: "key_1" },
      requestId: "r1",
      action: "webhook.delete",
      target: "webhook:w1",
      before: { url: "https://x.example" },
      after: undefined,
    });
    expect(values).toEqual([
      "acme",
      "api-key",
      "key_1",
      "r1",
      "webhook.delete",
      "webhook:w1",
      '{"url":"https://x.example"}',
      null,
    ]);
  });
});
