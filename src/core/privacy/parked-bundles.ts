/** Which records of a parked dead-letter bundle belong to a tenant or a person, and the bundle without them. */
import type { HashedPerson } from "./person-identifiers.ts";

/** Where the Worker parks dead-lettered bundles in the DEAD_LETTERS bucket. */
export const PARKED_BUNDLES_PREFIX = "parked/ingest/";

/** Decides whether one queued record (`{ topic, key, value }`) is to be removed. */
export type RecordMatcher = (record: unknown) => boolean;

type Rec = { topic?: unknown; key?: unknown; value?: unknown };

function ofTenant(record: unknown, tenant: string): record is Rec {
  if (typeof record !== "object" || record === null) return false;
  const { key } = record as Rec;
  // Every queued record's key starts with its tenant: `tenant:event_id`, `tenant:prediction_id`.
  return typeof key === "string" && key.startsWith(`${tenant}:`);
}

/** Every record of the tenant. */
export function tenantRecordMatcher(tenant: string): RecordMatcher {
  return (record) => ofTenant(record, tenant);
}

function includesHash(list: unknown, hash: string | undefined): boolean {
  return hash !== undefined && Array.isArray(list) && list.includes(hash);
}

/**
 * The tenant's records that name the person: events whose `user_data` holds one of the person's
 * hashes, predictions scored for one of the keyed entity ids.
 */
export function personRecordMatcher(
  tenant: string,
  person: Pick<HashedPerson, "em" | "ph" | "externalId">,
  entityKeys: readonly string[],
): RecordMatcher {
  return (record) => {
    if (!ofTenant(record, tenant)) return false;
    const value = record.value as Record<string, unknown> | null | undefined;
    if (typeof value !== "object" || value === null) return false;
    if (record.topic === "predictions") {
      return typeof value.entityId === "string" && entityKeys.includes(value.entityId);
    }
    const userData = (value.event as { user_data?: Record<string, unknown> } | undefined)
      ?.user_data;
    if (typeof userData !== "object" || userData === null) return false;
    return (
      includesHash(userData.em, person.em) ||
      includesHash(userData.ph, person.ph) ||
      includesHash(userData.external_id, person.externalId)
    );
  };
}

/** What scrubbing one bundle came to: `text` undefined when no record is left (delete the object). */
export interface ScrubbedBundle {
  removed: number;
  kept: number;
  text: string | undefined;
}

/**
 * The parked bundle without the matching records. A bundle is `{ bundle: 1, attempts, records }`
 * (or, from older Workers, one record alone); text that is neither is left as it is (removed 0),
 * since it cannot be told to hold anyone's data.
 */
export function scrubParkedBundle(text: string, matches: RecordMatcher): ScrubbedBundle {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { removed: 0, kept: 0, text };
  }
  if (typeof parsed !== "object" || parsed === null) return { removed: 0, kept: 0, text };
  const body = parsed as { bundle?: unknown; records?: unknown };
  if (body.bundle === undefined) {
    return matches(parsed)
      ? { removed: 1, kept: 0, text: undefined }
      : { removed: 0, kept: 1, text };
  }
  if (!Array.isArray(body.records)) return { removed: 0, kept: 0, text };
  const kept = body.records.filter((r) => !matches(r));
  const removed = body.records.length - kept.length;
  if (removed === 0) return { removed, kept: kept.length, text };
  if (kept.length === 0) return { removed, kept: 0, text: undefined };
  return { removed, kept: kept.length, text: JSON.stringify({ ...body, records: kept }) };
}

/**
 * The slice of an R2 bucket the scrubbing uses; Workers' `R2Bucket` and Miniflare's bucket both
 * fit it.
 */
export interface ParkedBundleBucket {
  list(options: { prefix: string; cursor?: string }): Promise<{
    objects: { key: string }[];
    truncated: boolean;
    cursor?: string;
  }>;
  get(
    key: string,
  ): Promise<{ text(): Promise<string>; customMetadata?: Record<string, string> } | null>;
  put(
    key: string,
    value: string,
    options: { httpMetadata: { contentType: string }; customMetadata: Record<string, string> },
  ): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

/** What scrubbing the parked bundles did. */
export interface ParkedBundlesReport {
  /** Bundles read. */
  scanned: number;
  /** Records removed from them. */
  records: number;
  /** Bundles written back without the removed records. */
  rewritten: number;
  /** Bundles deleted because no record was left. */
  deleted: number;
}

/**
 * Reads every parked bundle and removes the matching records: a bundle left empty is deleted, any
 * other is written back under its key with its metadata. Parked bundles are few (what still
 * failed after about two days of retries), so reading each one is affordable.
 */
export async function scrubParkedBundles(
  bucket: ParkedBundleBucket,
  matches: RecordMatcher,
): Promise<ParkedBundlesReport> {
  const report: ParkedBundlesReport = { scanned: 0, records: 0, rewritten: 0, deleted: 0 };
  let cursor: string | undefined;
  do {
    const page = await bucket.list({
      prefix: PARKED_BUNDLES_PREFIX,
      ...(cursor === undefined ? {} : { cursor }),
    });
    for (const { key } of page.objects) {
      const object = await bucket.get(key);
      if (object === null) continue;
      report.scanned++;
      const scrubbed = scrubParkedBundle(await object.text(), matches);
      if (scrubbed.removed === 0) continue;
      report.records += scrubbed.removed;
      if (scrubbed.text === undefined) {
        await bucket.delete(key);
        report.deleted++;
      } else {
        await bucket.put(key, scrubbed.text, {
          httpMetadata: { contentType: "application/json" },
          customMetadata: {
            ...(object.customMetadata ?? {}),
            scrubbedRecords: String(scrubbed.removed),
          },
        });
        report.rewritten++;
      }
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return report;
}
