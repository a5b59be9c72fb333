/** The stream benchmark's workload: seeded, realistic event, CAPI and prediction messages with duplicates and late events. */
import { randomBytes } from "node:crypto";
import type { Message } from "kafkajs";
import { createRandom } from "#core/random";
import {
  sampleEventMessage,
  samplePrediction,
  toValue,
} from "../../stream-processor/testing/sample-messages";

export interface Workload {
  events: Message[];
  capi: Message[];
  predictions: Message[];
  /** Distinct (tenant, event name, event id) and prediction ids: what Postgres must count. */
  unique: number;
  bytes: number;
}

/** Seeded uniform numbers in [0, 1), so a failing run can be replayed. */
const rng = (seed: number): (() => number) => createRandom(seed).next;

/** Cumulative weights → a sampler over `items`. */
function weighted<T>(rand: () => number, items: readonly (readonly [T, number])[]): () => T {
  const total = items.reduce((a, [, w]) => a + w, 0);
  return () => {
    let x = rand() * total;
    for (const [item, w] of items) {
      x -= w;
      if (x < 0) return item;
    }
    return items[items.length - 1]![0];
  };
}

/**
 * N records: 10 % predictions; the rest Meta-style events from 20 tenants (skewed), 60 % website
 * / 40 % CAPI, the standard funnel of event names (PageView most, Purchase few), 40 % without a
 * campaign and the rest over 30 campaigns with a Zipf tail, values on the commerce events. Event
 * times advance at `eventRate` records per second of event time, mostly in order with ±30 s
 * jitter, 1 % arriving up to 10 minutes late; 2 % of all records are re-sent copies (producer
 * retries).
 */
export function buildWorkload(n: number, eventRate: number, seed = 7): Workload {
  const rand = rng(seed);
  const tenants = Array.from({ length: 20 }, (_, i) => `tenant-${String(i + 1).padStart(2, "0")}`);
  const tenant = () => tenants[Math.min(19, Math.floor(rand() ** 2 * 20))]!;
  const eventName = weighted(rand, [
    ["PageView", 45],
    ["ViewContent", 25],
    ["AddToCart", 12],
    ["InitiateCheckout", 6],
    ["Lead", 5],
    ["Purchase", 7],
  ] as const);
  const campaign = weighted<string | undefined>(rand, [
    [undefined, 40 * 3.99],
    ...Array.from({ length: 30 }, (_, k) => [`campaign-${k + 1}`, 60 / (k + 1)] as const),
  ]);
  const span = Math.max(1_000, Math.round((n / eventRate) * 1000));
  const start = Date.now() - span - 60_000;
  const duplicates = Math.floor(n * 0.02);
  const originals = n - duplicates;
  const out: Workload = { events: [], capi: [], predictions: [], unique: 0, bytes: 0 };
  const predictionIds: string[] = [];
  const run = randomBytes(3).toString("hex");
  for (let i = 0; i < originals; i++) {
    let t = start + Math.floor((i / originals) * span) + Math.floor((rand() - 0.5) * 60_000);
    if (rand() < 0.01) t -= Math.floor(rand() * 600_000);
    if (rand() < 0.1) {
      const id = `${run}-p${i}`;
      const tn = tenant();
      predictionIds.push(id);
      out.predictions.push({
        key: `${tn}:${id}`,
        value: toValue(samplePrediction({ tenant: tn, predictionId: id, scoredAtMs: t })),
      });
    } else {
      const tn = tenant();
      const name = eventName();
      const commerce = name === "Purchase" || name === "AddToCart" || name === "InitiateCheckout";
      const eventId = `${run}-e${i}`;
      const source = rand() < 0.6 ? ("web" as const) : ("capi" as const);
      const message = sampleEventMessage({
        tenant: tn,
        source,
        eventId,
        eventName: name,
        eventTimeMs: t,
        campaign: campaign(),
        ...(commerce
          ? { value: Math.round(rand() * 20_000) / 100, currency: rand() < 0.7 ? "USD" : "EUR" }
          : {}),
        matchQuality: Math.floor(rand() * 41) / 4,
        ...(name === "Purchase" && predictionIds.length > 0 && rand() < 0.2
          ? { predictionId: predictionIds[Math.floor(rand() * predictionIds.length)]! }
          : {}),
      });
      (source === "web" ? out.events : out.capi).push({
        key: `${tn}:${eventId}`,
        value: toValue(message),
      });
    }
    out.unique += 1;
  }
  const all = [out.events, out.capi, out.predictions];
  for (let i = 0; i < duplicates; i++) {
    const list = all[Math.floor(rand() * 3)]!;
    if (list.length > 0) list.push(list[Math.floor(rand() * list.length)]!);
  }
  for (const list of all) for (const m of list) out.bytes += (m.value as Buffer).length;
  return out;
}
