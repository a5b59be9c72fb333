/** Deterministic anomaly ids: the same series and detection minute always give the same id. */

/** FNV-1a over UTF-16 code units, 32 bits, from `seed`. */
function fnv1a(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h >>> 0;
}

/**
 * `an-<minute, base 36>-<64-bit hash of the series key, hex>`: a redelivered batch recomputes
 * the same id, so storing it twice is a no-op; ids of two series could only collide within the
 * same minute and the same 64-bit hash. (Written here: the core has no crypto; this is an id,
 * not a secret.)
 */
export function anomalyId(seriesKey: string, detectedAtMs: number): string {
  const a = fnv1a(seriesKey, 2166136261).toString(16).padStart(8, "0");
  const b = fnv1a(seriesKey, 0x811c9dc5 ^ 0x5bd1e995)
    .toString(16)
    .padStart(8, "0");
  return `an-${Math.floor(detectedAtMs).toString(36)}-${a}${b}`;
}
