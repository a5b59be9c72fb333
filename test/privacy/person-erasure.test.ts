/**
 * `erasePerson` against real PostgreSQL and Miniflare's R2: one person's predictions, click ids,
 * conversion keys and parked records go, with exact counts; the same person at another tenant,
 * and other people, stay.
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { erasePerson } from "../../scripts/erase";
import { type LocalR2, openLocalR2 } from "../../scripts/local/local-r2";
import { migrate } from "../../scripts/migrate";

const POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";
const schema = `test_erase_${randomUUID().replaceAll("-", "").slice(0, 12)}`;
const databaseUrl = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
const ENTITY_ID_KEY = "erasure-test-entity-id-key";
const A = "acme";
const B = "globex";

// Independent of the code under test: node:crypto, Meta's rules written out by hand.
const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const keyed = (tenant: string, id: string) =>
  createHmac("sha256", ENTITY_ID_KEY).update(`${tenant}\u0000${id}`).digest("hex");
const JANE_EM = sha("jane@example.com");
const JANE_PH = sha("16505551212");

let db: pg.Pool;
let r2: LocalR2;
let r2Dir: string;

beforeAll(async () => {
  await migrate({ databaseUrl: POSTGRES_URL, schema });
  db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  r2Dir = mkdtempSync(join(tmpdir(), "driftline-r2-"));
  r2 = await openLocalR2(r2Dir);
});

afterAll(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
  await db.end();
  await r2.close();
  rmSync(r2Dir, { recursive: true, force: true });
});

async function seed(tenant: string): Promise<void> {
  const q = (text: string, values: unknown[]) => db.query(text, [tenant, ...values]);
  const prediction = (id: string, entity: string, click: string | null) =>
    q(
      `INSERT INTO predictions (tenant_id, prediction_id, model_name, version, entity_id, click_id, score, predicted_at)
       VALUES ($1, $2, 'conversion', '1', $3, $4, 0.5, now())`,
      [id, entity, click],
    );
  // Jane scored twice by her customer id (one with a click id), once by a session id.
  await prediction("p-jane-1", keyed(tenant, "cust-42"), "fbclid-jane");
  await prediction("p-jane-2", keyed(tenant, "cust-42"), null);
  await prediction("p-jane-3", keyed(tenant, "session-9"), null);
  await prediction("p-other", keyed(tenant, "cust-7"), "fbclid-other");
  const convKey = (kind: string, key: string, eventId: string) =>
    q(
      `INSERT INTO conversion_keys (tenant_id, key_kind, key, event_name, event_id, event_time)
       VALUES ($1, $2, $3, 'Purchase', $4, now())`,
      [kind, key, eventId],
    );
  await convKey("prediction", "p-jane-1", "order-1");
  await convKey("click", "fbclid-jane", "order-2");
  await convKey("prediction", "p-other", "order-3");
  await convKey("click", "fbclid-other", "order-4");
  await q(
    "INSERT INTO click_id_predictions (tenant_id, prediction_id, click_id) VALUES ($1, 'p-jane-1', 'fbclid-jane'), ($1, 'p-other', 'fbclid-other')",
    [],
  );
}

const count = async (table: string, tenant: string) =>
  Number(
    (await db.query(`SELECT count(*)::text AS n FROM ${table} WHERE tenant_id = $1`, [tenant]))
      .rows[0].n,
  );

describe("erasePerson", () => {
  it("erases one person's rows and parked records of one tenant, with exact counts", async () => {
    await seed(A);
    await seed(B);
    const event = (tenant: string, id: string, userData: Record<string, string[]>) => ({
      topic: "capi",
      key: `${tenant}:${id}`,
      value: { tenant, event: { user_data: userData } },
    });
    const bundle = {
      bundle: 1,
      attempts: 14,
      records: [
        event(A, "e1", { em: [JANE_EM] }),
        event(A, "e2", { ph: [JANE_PH], em: [sha("someone@example.com")] }),
        event(A, "e3", { em: [sha("someone@example.com")] }),
        event(B, "e4", { em: [JANE_EM] }),
        { topic: "predictions", key: `${A}:p-jane-9`, value: { entityId: keyed(A, "cust-42") } },
      ],
    };
    await r2.deadLetters.put("parked/ingest/2026-11-02/m1-14.json", JSON.stringify(bundle), {
      httpMetadata: { contentType: "application/json" },
      customMetadata: { messageId: "m1" },
    });
    const beforeB = {
      predictions: await count("predictions", B),
      conversion_keys: await count("conversion_keys", B),
      click_id_predictions: await count("click_id_predictions", B),
    };

    const report = await erasePerson({
      tenant: A,
      identifiers: {
        email: " Jane@Example.com",
        phone: "+1 (650) 555-1212",
        externalId: "cust-42",
        entityId: "session-9",
      },
      databaseUrl,
      entityIdKey: ENTITY_ID_KEY,
      deadLetters: r2.deadLetters,
    });

    expect(report.postgres.tables).toEqual({
      predictions: 3,
      click_id_predictions: 1,
      conversion_keys: 2,
    });
    expect(report.deadLetters).toEqual({ scanned: 1, records: 3, rewritten: 1, deleted: 0 });
    expect(report.identifiers).toEqual(["email", "phone", "externalId", "entityId"]);

    const { rows } = await db.query<{ prediction_id: string }>(
      "SELECT prediction_id FROM predictions WHERE tenant_id = $1",
      [A],
    );
    expect(rows.map((r) => r.prediction_id)).toEqual(["p-other"]);
    expect(await count("conversion_keys", A)).toBe(2);
    expect(await count("click_id_predictions", A)).toBe(1);
    // The same customer id at another tenant is another person's: untouched.
    expect({
      predictions: await count("predictions", B),
      conversion_keys: await count("conversion_keys", B),
      click_id_predictions: await count("click_id_predictions", B),
    }).toEqual(beforeB);

    const parked = await r2.deadLetters.get("parked/ingest/2026-11-02/m1-14.json");
    expect(parked?.customMetadata).toMatchObject({ messageId: "m1", scrubbedRecords: "3" });
    const keys = JSON.parse(await parked!.text()).records.map((r: { key: string }) => r.key);
    expect(keys).toEqual([`${A}:e3`, `${B}:e4`]);

    // Audited without any identifier, raw or hashed.
    const audit = await db.query("SELECT * FROM audit_log WHERE tenant_id = $1", [A]);
    expect(audit.rows).toHaveLength(1);
    expect(audit.rows[0]).toMatchObject({ action: "person.erase", actor_kind: "operator" });
    expect(audit.rows[0].after_state).toEqual({
      identifiers: ["email", "phone", "externalId", "entityId"],
      removed: { predictions: 3, click_id_predictions: 1, conversion_keys: 2 },
    });
    const text = JSON.stringify(audit.rows[0]).toLowerCase();
    for (const secret of ["jane", "cust-42", "session-9", "5551212", JANE_EM, JANE_PH]) {
      expect(text).not.toContain(secret);
    }

    // Again: nothing more to erase.
    const again = await erasePerson({
      tenant: A,
      identifiers: { externalId: "cust-42" },
      databaseUrl,
      entityIdKey: ENTITY_ID_KEY,
      deadLetters: r2.deadLetters,
    });
    expect(again.postgres.tables).toEqual({
      predictions: 0,
      click_id_predictions: 0,
      conversion_keys: 0,
    });
  });

  it("refuses an identifier the ingest would refuse, and changes nothing", async () => {
    await expect(
      erasePerson({
        tenant: A,
        identifiers: { email: "not an address" },
        databaseUrl,
        entityIdKey: ENTITY_ID_KEY,
      }),
    ).rejects.toThrow(/--email is not a valid email address/);
  });
});
