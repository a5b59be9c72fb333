import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createUserDataNormalizer, normalizeUserData } from "./normalize-user-data.ts";
import { hashedUserDataSchema, type UserDataInput } from "./user-data-schema.ts";

const require = createRequire(import.meta.url);
const sdk = require("facebook-nodejs-business-sdk") as {
  UserData: new () => unknown;
  ServerSideUtils: { normalizeAndHash(input: string, field: string): string | null };
};

const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Every customer information parameter Meta documents, raw, as a sender would post them. */
const EVERY_PARAMETER: UserDataInput = {
  em: ["John_Smith@gmail.com", " john_smith@GMAIL.com ", "mary@example.com"],
  ph: ["+1 (650) 555-1212", "16505551212", "+44 20 7946 0958"],
  fn: ["Mary", "MARY "],
  ln: ["Smith"],
  db: ["19970216"],
  ge: ["F"],
  ct: ["Menlo Park"],
  st: ["CA"],
  zp: ["94025-1234"],
  country: ["US"],
  external_id: ["user-123", "CRM-77"],
  client_ip_address: "203.0.113.7",
  client_user_agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15",
  fbc: "fb.1.1554763741205.AbCdEfGhIjKlMnOpQrStUvWxYz1234567890",
  fbp: "fb.1.1558571054389.1098115397",
  subscription_id: "sub-42",
  fb_login_id: "1234567890",
  lead_id: "1234567890123456",
  f5first: "Jonathan",
  f5last: "Fitzgerald",
  fi: "J",
  dobd: "7",
  dobm: "2",
  doby: "1997",
  madid: "38400000-8cf0-11bd-b23e-10b96e40000d",
  anon_id: "XZ4F6A7C-2B1D-4E3F",
  app_user_id: "App-User-1",
  ctwa_clid: "ARAkLkA8rmlFeiCktEJQ",
  page_id: "102030405060",
};

function sdkUserData(input: UserDataInput): Record<string, unknown> {
  const list = (v: unknown) => (Array.isArray(v) ? v : [v]);
  const u = new sdk.UserData() as unknown as Record<string, (v: unknown) => unknown> & {
    normalize(): Record<string, unknown>;
  };
  const setters: [keyof UserDataInput, string, boolean][] = [
    ["em", "setEmails", true],
    ["ph", "setPhones", true],
    ["fn", "setFirstNames", true],
    ["ln", "setLastNames", true],
    ["db", "setDatesOfBirth", true],
    ["ge", "setGenders", true],
    ["ct", "setCities", true],
    ["st", "setStates", true],
    ["zp", "setZips", true],
    ["country", "setCountries", true],
    ["client_ip_address", "setClientIpAddress", false],
    ["client_user_agent", "setClientUserAgent", false],
    ["fbc", "setFbc", false],
    ["fbp", "setFbp", false],
    ["subscription_id", "setSubscriptionId", false],
    ["fb_login_id", "setFbLoginId", false],
    ["lead_id", "setLeadId", false],
    ["f5first", "setF5First", false],
    ["f5last", "setF5Last", false],
    ["fi", "setFi", false],
    ["dobd", "setDobd", false],
    ["dobm", "setDobm", false],
    ["doby", "setDoby", false],
    ["madid", "setMadid", false],
    ["anon_id", "setAnonId", false],
    ["app_user_id", "setAppUserId", false],
    ["ctwa_clid", "setCtwaClid", false],
    ["page_id", "setPageId", false],
  ];
  for (const [field, setter, isList] of setters) {
    const value = input[field];
    if (value === undefined) continue;
    const method = u[setter];
    if (typeof method !== "function") throw new Error(`SDK UserData has no ${setter}`);
    method.call(u, isList ? list(value) : value);
  }
  return u.normalize();
}

describe("normalizeUserData", () => {
  it("equals the SDK's UserData.normalize() for every customer information parameter", async () => {
    const { hashed, issues } = await normalizeUserData(EVERY_PARAMETER);
    expect(issues).toEqual([]);
    const reference = sdkUserData(EVERY_PARAMETER);
    const { external_id, ...ours } = hashed;
    expect(ours).toEqual(reference);
    // Duplicates that normalise to the same text collapse, as in the SDK.
    expect(hashed.em).toHaveLength(2);
    expect(hashed.ph).toHaveLength(2);
    expect(hashed.fn).toEqual([sha("mary")]);
    // The SDK forwards external_id raw; Driftline hashes it with the SDK's own rule.
    expect(external_id).toEqual([
      sdk.ServerSideUtils.normalizeAndHash("user-123", "external_id"),
      sdk.ServerSideUtils.normalizeAndHash("CRM-77", "external_id"),
    ]);
    expect(external_id).toEqual([sha("user-123"), sha("crm-77")]);
    expect(hashedUserDataSchema.safeParse(hashed).success).toBe(true);
  });

  it("puts no raw contact value anywhere in the output", async () => {
    const { hashed } = await normalizeUserData(EVERY_PARAMETER);
    const json = JSON.stringify(hashed).toLowerCase();
    for (const field of ["em", "ph", "fn", "ln", "db", "ct", "zp", "external_id"] as const) {
      for (const raw of [EVERY_PARAMETER[field]].flat()) {
        const needle = String(raw).trim().toLowerCase();
        expect(json, `${field} ${needle}`).not.toContain(needle);
      }
    }
    for (const needle of ["menlopark", "94025", "jonathan", "fitzg", "app-user-1"]) {
      expect(json).not.toContain(needle);
    }
  });

  it("keeps the unhashed identifiers exactly as sent, numbers as decimal text", async () => {
    const { hashed } = await normalizeUserData({
      client_ip_address: "2001:db8::1",
      fbp: "fb.1.1558571054389.1098115397",
      lead_id: 1234567890123,
      external_id: [12345],
    });
    expect(hashed).toEqual({
      external_id: [sha("12345")],
      client_ip_address: "2001:db8::1",
      fbp: "fb.1.1558571054389.1098115397",
      lead_id: "1234567890123",
    });
  });

  it("reports each refused value by its path, drops blanks, and hashes the rest", async () => {
    const { hashed, issues } = await normalizeUserData({
      em: ["ok@example.com", "not-an-email", "  "],
      ph: "123",
      ge: "unknown",
      country: "USA",
      zp: "9",
      fn: "",
    });
    expect(issues).toEqual([
      { field: "em.1", message: "is not a valid email address" },
      { field: "ph", message: expect.stringContaining("7 to 16 digits") },
      { field: "ge", message: "gender must be f, m, female or male" },
      { field: "zp", message: "postal code must have at least 2 characters" },
      { field: "country", message: expect.stringContaining("ISO 3166-1 alpha-2") },
    ]);
    expect(hashed).toEqual({ em: [sha("ok@example.com")] });
  });

  it("passes values that are already hashed, whatever the field", async () => {
    const emailHash = sha("john_smith@gmail.com");
    const { hashed } = await normalizeUserData({
      em: emailHash.toUpperCase(),
      ph: [sha("16505551212")],
    });
    expect(hashed).toEqual({ em: [emailHash], ph: [sha("16505551212")] });
  });
});

describe("createUserDataNormalizer (one per batch, remembering values)", () => {
  // Values drawn from small pools repeat (and stay remembered), values drawn from large ones
  // rarely do (the field stops being remembered after its trial); both kinds in one batch.
  const pool = (size: number, make: (i: number) => string) =>
    fc.integer({ min: 0, max: size - 1 }).map(make);
  const userData = fc.record(
    {
      em: fc.oneof(
        pool(3, (i) => ` Shared.${i}@Example.com`),
        pool(100_000, (i) => `c${i}@example.com`),
        fc.constant("not an email"),
      ),
      ph: pool(50_000, (i) => `+1 650 555 ${String(i).padStart(4, "0")}`),
      fn: pool(4, (i) => ["Mary", "MARY ", "Ana", ""][i] as string),
      ge: pool(5, (i) => ["f", "M", "female", "x", " "][i] as string),
      country: pool(4, (i) => ["US", "us", "DE", "zz"][i] as string),
      external_id: fc.array(
        pool(1_000_000, (i) => `cust-${i}`),
        { maxLength: 3 },
      ),
      fbp: pool(10, (i) => `fb.1.1558571054389.${i}`),
    },
    { requiredKeys: [] },
  );

  it("answers every event of a batch as a fresh normalisation of that event alone would", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(userData, { minLength: 150, maxLength: 400 }), async (batch) => {
        const normalize = createUserDataNormalizer();
        for (const input of batch) {
          expect(normalize(input)).toEqual(await normalizeUserData(input));
        }
      }),
      { numRuns: 25 },
    );
  });
});
