/** DedupStore on Upstash Redis: `SET key 1 NX EX ttl` per event, in request order, in one round trip. */
import type { Redis } from "@upstash/redis/cloudflare";
import { DependencyUnavailableError } from "#core/errors";
import type { ClaimOutcome, DedupClaim, DedupStore } from "./ingest-ports";

/** Meta deduplicates a browser and a server copy of one event within 48 hours; so does Driftline. */
export const DEFAULT_DEDUP_TTL_SECONDS = 48 * 60 * 60;

/**
 * Redis key of an event's deduplication key (`eventDedupKey` from the event core: 64 hex digits
 * of SHA-256), so every claim is 70 bytes whatever the sender's names and ids hold; the same
 * Redis holds API keys and rate limits. Workers before hashed keys stored the identity itself
 * (`dedup:<tenant>:<event_name>:<event_id>`); those keys expire within the dedup TTL (48 h) and
 * are never read again, so an event first seen before the switch and resent within that time is
 * accepted once more at the edge. The stream processor remembers what it counted in its own
 * `seen_events` (by a digest that did not change) and does not count such a repeat again.
 */
export function dedupRedisKey(dedupKey: string): string {
  return `dedup:${dedupKey}`;
}

/**
 * The same SET NX EX per key a pipeline would send, run by Redis in order; answers one 1
 * (claimed now), 0 (already there) or 2 (claimed now, but the second key a claim's ARGV entry
 * names by KEYS position — its other-sender copy's key — exists) per claim. One command instead of a 1000-command pipeline: building such a pipeline and decoding
 * its base64 replies with @upstash/redis costs the isolate far more CPU than the script (README,
 * "Sizing").
 */
const CLAIM_SCRIPT = `local claimed = {}
local n = tonumber(ARGV[2])
for i = 1, n do
  local other = tonumber(ARGV[i + 2])
  if not redis.call("SET", KEYS[i], "1", "NX", "EX", ARGV[1]) then
    claimed[i] = 0
  elseif other > 0 and redis.call("EXISTS", KEYS[other]) == 1 then
    claimed[i] = 2
  else
    claimed[i] = 1
  end
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

  async claim(claims: readonly DedupClaim[]): Promise<ClaimOutcome[]> {
    const claimed: ClaimOutcome[] = [];
    for (let start = 0; start < claims.length; start += MAX_KEYS_PER_CALL) {
      const slice = claims.slice(start, start + MAX_KEYS_PER_CALL);
      const chunk = slice.map((c) => dedupRedisKey(c.key));
      // Other-copy keys go after the claimed ones; each claim names its own by KEYS position (0: none).
      const keys = [...chunk];
      const guards = slice.map((c) => {
        if (c.otherKey === undefined) return "0";
        keys.push(dedupRedisKey(c.otherKey));
        return String(keys.length);
      });
      let replies: unknown;
      try {
        replies = await this.claimScript.exec(keys, [
          String(this.ttlSeconds),
          String(chunk.length),
          ...guards,
        ]);
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
      for (const reply of replies) {
        claimed.push(reply === 1 ? "claimed" : reply === 2 ? "copy" : "duplicate");
      }
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
