/** RejectionLog on Upstash Redis: one counter per tenant, source and minute, kept two days. */
import type { Redis } from "@upstash/redis/cloudflare";
import { DependencyUnavailableError } from "#core/errors";
import { EVENT_SOURCES, type EventSource } from "#core/events";
import type { RejectionCount, RejectionLog } from "./ingest-ports";

const MINUTE_MS = 60_000;
/** How long a minute's counter is kept: the console's day of history, and a day to spare. */
export const REJECTION_RETENTION_SECONDS = 48 * 60 * 60;
/** The longest range one read may ask for, ms (its keys go in one MGET). */
export const REJECTION_READ_MAX_MS = 24 * 60 * MINUTE_MS;

export function rejectionRedisKey(tenant: string, source: EventSource, minuteMs: number): string {
  return `rejected:${tenant}:${source}:${minuteMs}`;
}

/**
 * Rejected events never reach Kafka, so the stream processor cannot count them: the Worker
 * counts them where it rejects them, with one INCRBY and EXPIRE per request that had any (a
 * request without rejections costs nothing).
 */
export class UpstashRejectionLog implements RejectionLog {
  constructor(private readonly redis: Redis) {}

  async record(tenant: string, source: EventSource, atMs: number, count: number): Promise<void> {
    if (count <= 0) return;
    const key = rejectionRedisKey(tenant, source, atMs - (atMs % MINUTE_MS));
    const p = this.redis.pipeline();
    p.incrby(key, count);
    p.expire(key, REJECTION_RETENTION_SECONDS);
    await p.exec();
  }

  async read(tenant: string, fromMs: number, toMs: number): Promise<RejectionCount[]> {
    const slots: { minuteMs: number; source: EventSource }[] = [];
    for (
      let m = fromMs - (((fromMs % MINUTE_MS) + MINUTE_MS) % MINUTE_MS);
      m < toMs;
      m += MINUTE_MS
    ) {
      if (m < fromMs) continue;
      for (const source of EVENT_SOURCES) slots.push({ minuteMs: m, source });
    }
    if (slots.length === 0) return [];
    let values: (number | string | null)[];
    try {
      values = await this.redis.mget<(number | string | null)[]>(
        ...slots.map((s) => rejectionRedisKey(tenant, s.source, s.minuteMs)),
      );
    } catch (err) {
      throw new DependencyUnavailableError(
        "Cannot read rejected event counts: Upstash Redis is unreachable or failing; retry.",
        { cause: err },
      );
    }
    const out: RejectionCount[] = [];
    slots.forEach((s, i) => {
      const n = Number(values[i] ?? 0);
      if (n > 0) out.push({ ...s, rejected: n });
    });
    return out;
  }
}
