/** Puts records on the ingest queue packed many to a message ("bundles"), in sendBatch calls within Cloudflare's limits. */
import { bundleFrameBytes, type IngestQueueBody, ingestBundleText } from "./ingest-queue-body";

/**
 * Why bundles: Cloudflare Queues take about 5,000 messages per second per queue, bill each
 * message per started 64 KB, and hold at most 128 KB per message. One message per record capped
 * a deployment at ~5,000 events/s (and billed a 2.5 KB event like 64 KB); bundles of ~120 KB
 * carry ~50 CAPI events each, so the same message rate moves ~50x the events at the same price
 * per byte. Records of one request are bundled together (the request answers only once they are
 * queued), never records of different requests.
 *
 * The budget counts UTF-8 bytes of the bundle's JSON text, safely under the 128 KB (128,000
 * bytes in Miniflare's check) a message may hold.
 */
export const MAX_BUNDLE_BYTES = 120_000;
/** Cloudflare Queues: at most 100 messages per `sendBatch`. */
export const MAX_SEND_BATCH_MESSAGES = 100;
/**
 * Cloudflare Queues: at most 256 KB per `sendBatch`. The budget counts the bodies in UTF-8 bytes
 * plus `MESSAGE_OVERHEAD_BYTES` per message for what the runtime adds around each body; two full
 * bundles fit one call.
 */
export const MAX_SEND_BATCH_BYTES = 250_000;
const MESSAGE_OVERHEAD_BYTES = 100;

/** Splits messages (by position) into groups that each fit one `sendBatch` call. */
export function planSendBatches(
  sizesBytes: readonly number[],
  limits = { messages: MAX_SEND_BATCH_MESSAGES, bytes: MAX_SEND_BATCH_BYTES },
): number[][] {
  return packInOrder(
    sizesBytes,
    (members, bytes, size) =>
      members < limits.messages &&
      bytes + (members + 1) * MESSAGE_OVERHEAD_BYTES + size <= limits.bytes,
  );
}

/**
 * Splits records (by position, each `sizesBytes[i]` bytes of JSON text) into consecutive bundles
 * whose text, frame included, stays within `maxBundleBytes`. A record too large for a bundle
 * with others goes alone rather than being dropped; the queue then takes it or refuses it (and
 * the caller hears which records were not queued).
 */
export function planBundles(
  sizesBytes: readonly number[],
  maxBundleBytes = MAX_BUNDLE_BYTES,
): number[][] {
  return packInOrder(
    sizesBytes,
    (members, bytes, size) => bytes + size + bundleFrameBytes(members + 1) <= maxBundleBytes,
  );
}

/**
 * Greedy packing in order: each item joins the current group while `fits(members, bytes, size)`
 * says so (`bytes`: the sizes already in the group), else starts the next group. An item alone in
 * a group is always taken, even when it does not fit.
 */
function packInOrder(
  sizesBytes: readonly number[],
  fits: (members: number, bytes: number, size: number) => boolean,
): number[][] {
  const groups: number[][] = [];
  let current: number[] = [];
  let bytes = 0;
  sizesBytes.forEach((size, i) => {
    if (current.length > 0 && !fits(current.length, bytes, size)) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(i);
    bytes += size;
  });
  if (current.length > 0) groups.push(current);
  return groups;
}

const encoder = new TextEncoder();
/** Reused target of `encodeInto`, grown to the largest text measured (3 bytes per UTF-16 unit). */
let scratch = new Uint8Array(64 * 1024);

/** UTF-8 length of a string, as `TextEncoder` would encode it (lone surrogates as U+FFFD). */
export function utf8ByteLength(text: string): number {
  // Encoding into a reused buffer is native and ~10x faster than scanning the string in JS (or
  // with a regex for non-ASCII): ~0.2 µs for a 2.5 KB event message.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

/** The slice of the ingest queue binding this needs. */
export interface IngestBatchQueue {
  sendBatch(messages: Iterable<MessageSendRequest<IngestQueueBody>>): Promise<unknown>;
}

/** Positions (in the records given) that are not on the queue, and why; empty when all are. */
export interface BundleSendOutcome {
  notQueued: number[];
  reason: string;
}

/**
 * Bundles `recordTexts` (each an `IngestMessage` as JSON text, see `ingestMessageText`) in order
 * and sends the bundles in concurrent `sendBatch` calls. `recordBytes`, when the caller knows them,
 * are the texts' UTF-8 sizes (measured here otherwise). Never rejects: when some calls fail the
 * others are already durable, and the outcome names the records of the failed calls.
 */
export async function sendIngestBundles(
  queue: IngestBatchQueue,
  recordTexts: readonly string[],
  maxBundleBytes = MAX_BUNDLE_BYTES,
  recordBytes?: readonly number[],
): Promise<BundleSendOutcome> {
  const sizes = recordBytes ?? recordTexts.map(utf8ByteLength);
  const bundles = planBundles(sizes, maxBundleBytes);
  const bodies = bundles.map((positions) =>
    ingestBundleText(positions.map((i) => recordTexts[i] as string)),
  );
  const bundleBytes = bundles.map(
    (positions) =>
      positions.reduce((sum, i) => sum + (sizes[i] as number), 0) +
      bundleFrameBytes(positions.length),
  );
  const batches = planSendBatches(bundleBytes);
  const results = await Promise.allSettled(
    // async: a sendBatch that throws instead of rejecting still counts as that call's failure.
    batches.map(async (members) =>
      queue.sendBatch(
        members.map((b) => ({ body: bodies[b] as string, contentType: "text" as const })),
      ),
    ),
  );
  const notQueued: number[] = [];
  let reason = "";
  results.forEach((result, k) => {
    if (result.status === "fulfilled") return;
    for (const b of batches[k] as number[]) notQueued.push(...(bundles[b] as number[]));
    reason ||= result.reason instanceof Error ? result.reason.message : String(result.reason);
  });
  return { notQueued, reason };
}
