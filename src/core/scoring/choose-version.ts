/** Champion/challenger routing: a deterministic bucket per entity, a random one without an entity. */
import type { ActivePointer } from "./active-pointer.ts";

export type ServingArm = "champion" | "challenger";

export interface VersionChoice {
  version: string;
  arm: ServingArm;
}

const encoder = new TextEncoder();

/**
 * A uniform number in [0, 1) from a string: 32-bit FNV-1a over the UTF-8 bytes, then murmur3's
 * fmix32 finaliser so that ids differing in one trailing character land far apart. Written by
 * hand because it is ten lines and must give the same value in workerd, Node and any other
 * consumer that wants to reproduce an assignment (e.g. an offline analysis of an A/B split).
 */
export function uniformBucket(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(key)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * The version that scores one row. With an `entityId` the choice depends only on (tenant, model,
 * challenger version, entityId), so an entity keeps its arm for the life of a challenger and is
 * reshuffled when a new challenger starts; without one it is `random()` < share.
 */
export function chooseVersion(
  pointer: ActivePointer,
  route: { tenant: string; model: string; entityId?: string | undefined },
  random: () => number,
): VersionChoice {
  const challenger = pointer.challenger;
  if (!challenger) return { version: pointer.champion, arm: "champion" };
  const u =
    route.entityId === undefined
      ? random()
      : uniformBucket(
          `${route.tenant}\u0000${route.model}\u0000${challenger.version}\u0000${route.entityId}`,
        );
  return u < challenger.share
    ? { version: challenger.version, arm: "challenger" }
    : { version: pointer.champion, arm: "champion" };
}
