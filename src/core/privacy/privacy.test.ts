import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  hashPersonIdentifiers,
  importEntityIdKey,
  keyEntityId,
  personRecordMatcher,
  scrubParkedBundle,
  tenantRecordMatcher,
} from "./index.ts";

const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

describe("hashPersonIdentifiers", () => {
  it("hashes as Meta's normalizeAndHash does (trim, lower-case; phone digits only)", async () => {
    const result = await hashPersonIdentifiers({
      email: "  Jane.Doe@Example.COM ",
      phone: "+1 (650) 555-1212",
      externalId: " Cust-42 ",
    });
    expect(result).toEqual({
      kind: "hashed",
      person: {
        em: sha("jane.doe@example.com"),
        ph: sha("16505551212"),
        externalId: sha("cust-42"),
        entityIds: [" Cust-42 "],
        given: ["email", "phone", "externalId"],
      },
    });
  });

  it("passes a value that is already a SHA-256 digest through, like the ingest", async () => {
    const digest = sha("jane@example.com");
    const result = await hashPersonIdentifiers({ email: digest.toUpperCase() });
    expect(result.kind === "hashed" && result.person.em).toBe(digest);
  });

  it("keeps an entity id as given, to be keyed", async () => {
    const result = await hashPersonIdentifiers({ entityId: "u-1", externalId: "u-1" });
    expect(result.kind === "hashed" && result.person.entityIds).toEqual(["u-1"]);
  });

  it("refuses what the ingest refuses, naming the field and not the value", async () => {
    const result = await hashPersonIdentifiers({ email: "not-an-address", phone: "12" });
    expect(result.kind).toBe("invalid");
    const issues = result.kind === "invalid" ? result.issues : [];
    expect(issues.map((i) => i.field).sort()).toEqual(["email", "phone"]);
    expect(JSON.stringify(issues)).not.toContain("not-an-address");
  });

  it("refuses a blank value", async () => {
    const result = await hashPersonIdentifiers({ email: "   " });
    expect(result).toEqual({
      kind: "invalid",
      issues: [{ field: "email", message: "is blank after trimming" }],
    });
  });
});

describe("keyEntityId", () => {
  it("equals an HMAC-SHA-256 of tenant NUL entityId computed by node:crypto", async () => {
    const key = await importEntityIdKey("a-secret-of-16-chars-or-more");
    expect(await keyEntityId(key, "acme", "u-1")).toBe(
      createHmac("sha256", "a-secret-of-16-chars-or-more").update("acme\u0000u-1").digest("hex"),
    );
  });
});

describe("scrubParkedBundle", () => {
  const em = sha("jane@example.com");
  const event = (tenant: string, id: string, userData: Record<string, string[]>) => ({
    topic: "capi",
    key: `${tenant}:${id}`,
    value: { tenant, event: { user_data: userData } },
  });
  const bundle = {
    bundle: 1,
    attempts: 12,
    records: [
      event("acme", "e1", { em: [em] }),
      event("acme", "e2", { em: [sha("other@example.com")] }),
      event("acme-2", "e3", { em: [em] }),
      { topic: "predictions", key: "acme:p1", value: { entityId: "k1" } },
      { topic: "predictions", key: "acme:p2", value: { entityId: "k2" } },
    ],
  };

  it("removes a person's events and predictions of one tenant only", () => {
    const out = scrubParkedBundle(
      JSON.stringify(bundle),
      personRecordMatcher("acme", { em }, ["k1"]),
    );
    expect(out.removed).toBe(2);
    expect(out.kept).toBe(3);
    const keys = (JSON.parse(out.text!) as typeof bundle).records.map((r) => r.key);
    expect(keys).toEqual(["acme:e2", "acme-2:e3", "acme:p2"]);
    expect((JSON.parse(out.text!) as typeof bundle).attempts).toBe(12);
  });

  it("removes every record of a tenant, and says when nothing is left", () => {
    const mixed = scrubParkedBundle(JSON.stringify(bundle), tenantRecordMatcher("acme"));
    expect(mixed.removed).toBe(4);
    expect(JSON.parse(mixed.text!).records).toHaveLength(1);
    const only = scrubParkedBundle(JSON.stringify(bundle), tenantRecordMatcher("acme-2"));
    expect(only.removed).toBe(1);
    const none = scrubParkedBundle(
      JSON.stringify({ ...bundle, records: [bundle.records[2]] }),
      tenantRecordMatcher("acme-2"),
    );
    expect(none).toEqual({ removed: 1, kept: 0, text: undefined });
  });

  it("leaves a bundle without matches byte for byte, and text it cannot read alone", () => {
    const text = JSON.stringify(bundle);
    expect(scrubParkedBundle(text, tenantRecordMatcher("zeta"))).toEqual({
      removed: 0,
      kept: 5,
      text,
    });
    expect(scrubParkedBundle("not json", tenantRecordMatcher("acme")).text).toBe("not json");
  });
});
