/** Per-key ordering of a produce: which earlier chunks each chunk of records must wait for. */
import type { KafkaRestRecord } from "./kafka-rest-record";

/**
 * For each chunk of `size` records, the earlier chunks it must wait for: per key (a keyless
 * record: per explicit partition), the chunk that last held it.
 */
export function chunkPredecessors(records: readonly KafkaRestRecord[], size: number): number[][] {
  const lastChunk = new Map<string, number>();
  const waitFor: number[][] = [];
  for (let start = 0; start < records.length; start += size) {
    const chunk = waitFor.length;
    const earlier = new Set<number>();
    for (let i = start; i < Math.min(start + size, records.length); i++) {
      const { key, partitionId } = records[i]!;
      const identity =
        key !== null ? `k${key}` : partitionId !== undefined ? `p${partitionId}` : undefined;
      if (identity === undefined) continue;
      const last = lastChunk.get(identity);
      if (last !== undefined && last !== chunk) earlier.add(last);
      lastChunk.set(identity, chunk);
    }
    waitFor.push([...earlier]);
  }
  return waitFor;
}
