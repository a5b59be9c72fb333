/**
 * Parked events in Postgres (`destination_parked_events`): one sealed row per parked request,
 * written in the batch's transaction, read oldest first and deleted in the transaction that
 * records the destination's answer.
 */
import { openParkedEvents, sealParkedEvents } from "#core/destinations";
import type { Queryable } from "../db/timed-query";
import type { ParkedRequest } from "./deliver-request";
import { readForwardable } from "./forwardable-message";
import type { DeliveryItem } from "./plan-deliveries";

/** A parked request sealed for its destination, ready to insert. */
export interface SealedParked {
  tenant: string;
  destinationId: string;
  testEventCode: string | null;
  events: number;
  payloadSealed: string;
  reason: string;
}

/** One parked row, as the resumer reads it. */
export interface ParkedRow {
  parkedId: string;
  testEventCode: string | null;
  events: number;
  payloadSealed: string;
}

/** A parked record: the Kafka record byte for byte (base64) and where it came from. */
interface ParkedRecord {
  t: string;
  p: number;
  o: string;
  k: string | null;
  v: string;
  h: Record<string, string>;
  ts: number;
}

export async function sealParked(key: CryptoKey, parked: ParkedRequest): Promise<SealedParked> {
  const { destination, testEventCode, items } = parked.request;
  const records: ParkedRecord[] = items.map((i) => ({
    t: i.topic,
    p: i.partition,
    o: i.record.offset,
    k: i.record.key === null ? null : i.record.key.toString("base64"),
    v: (i.record.value as Buffer).toString("base64"),
    h: i.record.headers,
    ts: i.record.timestampMs,
  }));
  return {
    tenant: destination.tenant,
    destinationId: destination.id,
    testEventCode: testEventCode ?? null,
    events: items.length,
    payloadSealed: await sealParkedEvents(key, JSON.stringify(records), {
      tenant: destination.tenant,
      destinationId: destination.id,
    }),
    reason: parked.reason,
  };
}

/** The parked row's items; an error when it does not open (another key, or altered). */
export async function openParked(
  key: CryptoKey,
  owner: { tenant: string; destinationId: string },
  row: ParkedRow,
): Promise<{ ok: true; items: DeliveryItem[] } | { ok: false; reason: string }> {
  const opened = await openParkedEvents(key, row.payloadSealed, owner);
  if (!opened.ok) return opened;
  const items: DeliveryItem[] = [];
  for (const r of JSON.parse(opened.token) as ParkedRecord[]) {
    const value = Buffer.from(r.v, "base64");
    const message = readForwardable(value);
    if (message === undefined) continue; // parked only after it was read: cannot happen
    items.push({
      topic: r.t,
      partition: r.p,
      record: {
        offset: r.o,
        key: r.k === null ? null : Buffer.from(r.k, "base64"),
        value,
        headers: r.h,
        timestampMs: r.ts,
      },
      eventJson: message.eventJson,
    });
  }
  return { ok: true, items };
}

export async function insertParked(sql: Queryable, rows: readonly SealedParked[]): Promise<void> {
  if (rows.length === 0) return;
  const col = <T>(f: (r: SealedParked) => T) => rows.map(f);
  await sql.query({
    name: "driftline_insert_destination_parked_events",
    text: `INSERT INTO destination_parked_events
       (tenant_id, destination_id, test_event_code, events, payload_sealed, reason)
     SELECT t, d::uuid, c, e, p, r
     FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[])
       WITH ORDINALITY AS u(t, d, c, e, p, r, n)
     ORDER BY n`,
    values: [
      col((r) => r.tenant),
      col((r) => r.destinationId),
      col((r) => r.testEventCode),
      col((r) => r.events),
      col((r) => r.payloadSealed),
      col((r) => r.reason),
    ],
  });
}

/** Destinations with parked events, every tenant's (the resumer's work list). */
export async function listParkedDestinations(
  sql: Queryable,
): Promise<{ tenant: string; destinationId: string; rows: number; events: number }[]> {
  const { rows } = await sql.query<{ tenant_id: string; id: string; rows: number; events: number }>(
    {
      name: "driftline_list_parked_destinations",
      text: `SELECT tenant_id, destination_id::text AS id, count(*)::int AS rows, sum(events)::int AS events
       FROM destination_parked_events GROUP BY tenant_id, destination_id`,
    },
  );
  return rows.map((r) => ({
    tenant: r.tenant_id,
    destinationId: r.id,
    rows: r.rows,
    events: r.events,
  }));
}

/**
 * The destination's oldest parked row not taken by another member, locked until the
 * transaction ends (so two members never send the same row at once).
 */
export async function takeOldestParked(
  sql: Queryable,
  owner: { tenant: string; destinationId: string },
): Promise<ParkedRow | undefined> {
  const { rows } = await sql.query<{
    parked_id: string;
    test_event_code: string | null;
    events: number;
    payload_sealed: string;
  }>({
    name: "driftline_take_parked_events",
    text: `SELECT parked_id::text, test_event_code, events, payload_sealed
       FROM destination_parked_events WHERE tenant_id = $1 AND destination_id = $2::uuid
       ORDER BY parked_id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    values: [owner.tenant, owner.destinationId],
  });
  const row = rows[0];
  return row === undefined
    ? undefined
    : {
        parkedId: row.parked_id,
        testEventCode: row.test_event_code,
        events: row.events,
        payloadSealed: row.payload_sealed,
      };
}

export async function deleteParked(
  sql: Queryable,
  owner: { tenant: string; destinationId: string },
  parkedIds: readonly string[],
): Promise<void> {
  await sql.query({
    name: "driftline_delete_parked_events",
    text: `DELETE FROM destination_parked_events
       WHERE tenant_id = $1 AND destination_id = $2::uuid AND parked_id = ANY($3::bigint[])`,
    values: [owner.tenant, owner.destinationId, parkedIds],
  });
}

/** Every parked event of a destination that no longer exists (deleted by its tenant). */
export async function discardParked(
  sql: Queryable,
  owner: { tenant: string; destinationId: string },
): Promise<number> {
  const { rowCount } = await sql.query({
    name: "driftline_discard_parked_events",
    text: "DELETE FROM destination_parked_events WHERE tenant_id = $1 AND destination_id = $2::uuid",
    values: [owner.tenant, owner.destinationId],
  });
  return rowCount ?? 0;
}
