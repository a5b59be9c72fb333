/** DedupStore on Upstash Redis: `SET key 1 NX EX ttl` per event, in request order, in one round trip. */
import type { Redis } from "@upstash/redis/cloudflare";
import { DependencyUnavailableError } from "#core/errors";
import type { DedupStore } from "./ingest-ports";

/** Meta deduplicates a browser and a server copy of one event within 48 hours; so does Driftline. */
export const DEFAULT_DEDUP_TTL_SECONDS = 48 * 60 * 60;

/** Redis key of an event's deduplication identity (`eventDedupKey` from the event core). */
export function dedupRedisKey(dedupKey: string): string {
  return `dedup:${dedupKey}`;
}

/**
 * The same SET NX EX per key a pipeline would send, run by Redis in KEYS order; answers one 1
 * (claimed now) or 0 (already there) per key. One command instead of a 1000-command pipeline:
 * building such a pipeline and decoding its base64 replies with @upstash/redis costs the isolate
 * far more CPU than the script (README, "Sizing").
 */
const CLAIM_SCRIPT = `local claimed = {}
for i, key in ipairs(KEYS) do
  claimed[i] = redis.call("SET", key, "1", "NX", "EX", ARGV[1]) and 1 or 0
end
return claimed`;

/** Keys per script call; bounds one Redis command's run time and request size. */
const MAX_KEYS_PER_CALL = 1000;

/**
 * Redis runs each call's SETs in order, so of two equal keys in one batch the first is claimed and
 * the second is seen as taken. The script is loaded once (EVALSHA, falling back to EVAL).
 */
export class UpstashDedupStore implements DedupStore {
  private readonly claimScript;

  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds: number = DEFAULT_DEDUP_TTL_SECONDS,
  ) {
    this.claimScript = redis.createScript<number[]>(CLAIM_SCRIPT);
  }

  async claim(keys: readonly string[]): Promise<boolean[]> {
    const claimed: boolean[] = [];
    for (let start = 0; start < keys.length; start += MAX_KEYS_PER_CALL) {
      const chunk = keys.slice(start, start + MAX_KEYS_PER_CALL).map(dedupRedisKey);
      let replies: unknown;
      try {
        replies = await this.claimScript.exec(chunk, [String(this.ttlSeconds)]);
      } catch (err) {
        throw new DependencyUnavailableError(
          "Cannot deduplicate the events: Upstash Redis is unreachable or failing.",
          { cause: err },
        );
      }
      if (!Array.isArray(replies) || replies.length !== chunk.length) {
        throw new DependencyUnavailableError(
          `Upstash Redis answered the dedup claim with ${Array.isArray(replies) ? `${replies.length} replies for ${chunk.length} keys` : "a non-list"}.`,
        );
      }
      for (const reply of replies) claimed.push(reply === 1);
    }
    return claimed;
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
