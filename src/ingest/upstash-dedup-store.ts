/** DedupStore on Upstash Redis: one `SET key 1 NX EX ttl` per event, pipelined in request order. */
import type { Redis } from "@upstash/redis/cloudflare";
import { DependencyUnavailableError } from "../core/errors";
import type { DedupStore } from "./ingest-ports";

/** Meta deduplicates a browser and a server copy of one event within 48 hours; so does Driftline. */
export const DEFAULT_DEDUP_TTL_SECONDS = 48 * 60 * 60;

/** Redis key of an event's deduplication identity (`eventDedupKey` from the event core). */
export function dedupRedisKey(dedupKey: string): string {
  return `dedup:${dedupKey}`;
}

/**
 * One HTTP round trip per call, whatever the batch size. Redis runs a pipeline's commands in
 * order, so of two equal keys in one batch the first is claimed and the second is seen as taken.
 */
export class UpstashDedupStore implements DedupStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number = DEFAULT_DEDUP_TTL_SECONDS,
  ) {}

  async claim(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.set(dedupRedisKey(key), 1, { nx: true, ex: this.ttlSeconds });
    let replies: unknown[];
    try {
      replies = await pipeline.exec();
    } catch (err) {
      throw new DependencyUnavailableError(
        "Cannot deduplicate the events: Upstash Redis is unreachable or failing; nothing was accepted, retry the request.",
        { cause: err },
      );
    }
    // SET … NX answers "OK" when it wrote the key and null when the key existed.
    return keys.map((_, i) => replies[i] === "OK");
  }

  async release(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    try {
      await this.redis.del(...keys.map(dedupRedisKey));
    } catch (err) {
      throw new DependencyUnavailableError("Cannot release deduplication keys in Upstash Redis", {
        cause: err,
      });
    }
  }
}
