/**
 * `npm run demo`: a realistic stream against the running local platform (`npm start`), through
 * the public API only, so every console page has something to show: website and CAPI events,
 * scores from the demo model, purchases that label those predictions, then traffic whose
 * features drift (longer visits, more social traffic) until the processor raises drift alerts.
 *
 * Uses DRIFTLINE_KEY when set (it needs the score and ingest roles); otherwise creates a key with
 * every role for DEMO_TENANT (default `demo`) in the local Upstash and prints it for the console.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createRandom, pickIndex, type Random } from "#core/random";
import { parseCommandLine } from "./command-line";
import { runIfMain } from "./keys-common";
import { createApiKey } from "./keys-create";
import { loadLocalStackConfig } from "./local/config";

const MANIFEST = resolve(import.meta.dirname, "../models/conversion/1/manifest.json");

interface NumericReference {
  type: "number";
  sample: number[];
}
interface CategoricalReference {
  type: "categorical";
  categories: string[];
  proportions: number[];
}
type FeatureReference = NumericReference | CategoricalReference;
type Features = Record<string, number | string>;

export interface DemoOptions {
  baseUrl: string;
  key: string;
  /** Scored visitors per phase (reference, then drifted). */
  visitorsPerPhase: number;
  /** Pause between batches, ms: the stream spreads over a few minutes of windows. */
  pauseMs: number;
  log(line: string): void;
}

/** Visitors drawn from the model's own reference sample: what it was trained on. */
function visitor(reference: Record<string, FeatureReference>, random: Random, drift: boolean) {
  const features: Features = {};
  for (const [name, ref] of Object.entries(reference)) {
    if (ref.type === "number") {
      features[name] = ref.sample[random.int(ref.sample.length)]!;
    } else {
      const i = pickIndex(ref.proportions.slice(0, ref.categories.length), random.next());
      features[name] = ref.categories[i] ?? ref.categories[0]!;
    }
  }
  if (drift) {
    // A campaign brings in social traffic that stays longer: two features move, the rest not.
    features.time_on_site_s = Number(features.time_on_site_s) * 2.5 + 60;
    if (random.next() < 0.6) features.traffic_source = "social";
  }
  return features;
}

async function post(options: DemoOptions, path: string, body: unknown): Promise<unknown> {
  const res = await fetch(`${options.baseUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${options.key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

export async function runDemo(options: DemoOptions): Promise<void> {
  const manifest = JSON.parse(readFileSync(MANIFEST, "utf8")) as {
    reference: { features: Record<string, FeatureReference> };
  };
  const random = createRandom(20261207);
  const runId = Date.now().toString(36);
  const BATCH = 100;
  let eventsSent = 0;
  let purchases = 0;
  for (const phase of ["reference", "drifted"] as const) {
    options.log(
      phase === "reference"
        ? `phase 1: ${options.visitorsPerPhase} visitors like the training data`
        : `phase 2: ${options.visitorsPerPhase} visitors whose time on site and traffic source drift`,
    );
    for (let start = 0; start < options.visitorsPerPhase; start += BATCH) {
      const rows = Array.from({ length: BATCH }, (_, i) => ({
        entityId: `v-${runId}-${phase}-${start + i}`,
        features: visitor(manifest.reference.features, random, phase === "drifted"),
      }));
      const scored = (await post(options, "/v1/score", { model: "conversion", rows })) as {
        predictions: { predictionId: string; score: number }[];
      };
      const now = Date.now();
      const web: unknown[] = [];
      const capi: unknown[] = [];
      scored.predictions.forEach((p, i) => {
        const id = `${runId}-${phase}-${start + i}`;
        const source = String(rows[i]!.features.traffic_source);
        web.push({
          event_name: "ViewContent",
          event_time: now - 30_000,
          event_id: `view-${id}`,
          event_source_url: `https://shop.example/p/${i % 40}?utm_source=${source}&utm_campaign=winter`,
          user_data: { client_ip_address: "203.0.113.7", client_user_agent: "Mozilla/5.0 demo" },
        });
        // The visitor converts with the probability the model gave: labels are well calibrated
        // before the drift, and the drifted visitors convert as their scores say too.
        if (random.next() < p.score) {
          purchases += 1;
          web.push({
            event_name: "Purchase",
            event_time: now - 1_000,
            event_id: `buy-${id}`,
            prediction_id: p.predictionId,
            event_source_url: "https://shop.example/checkout/done",
            user_data: {
              em: `buyer-${id}@example.com`,
              ph: "+49 30 1234567",
              client_ip_address: "203.0.113.7",
              client_user_agent: "Mozilla/5.0 demo",
              fbp: "fb.1.1700000000000.42",
            },
            custom_data: {
              value: Math.round((20 + random.next() * 180) * 100) / 100,
              currency: random.next() < 0.7 ? "EUR" : "USD",
            },
          });
        }
        if (i % 4 === 0) {
          capi.push({
            event_name: "Lead",
            event_time: Math.floor(now / 1000) - 5,
            event_id: `lead-${id}`,
            action_source: "system_generated",
            user_data: { em: [`lead-${id}@example.org`], external_id: `crm-${id}`, country: "DE" },
            custom_data: { lead_event_source: "crm" },
          });
        }
      });
      await post(options, "/v1/events", { events: web });
      await post(options, "/v1/capi/4242/events", { data: capi });
      eventsSent += web.length + capi.length;
      options.log(
        `  ${phase}: ${start + BATCH}/${options.visitorsPerPhase} scored · ${eventsSent} events · ${purchases} purchases`,
      );
      await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  }
  options.log("done: drift and performance results follow as the processor closes its windows.");
}

const USAGE = `Usage: npm run demo

Sends realistic demo traffic to the running local platform (start it first with npm start):
website and CAPI events, scores from the demo model, purchases that label those predictions,
then traffic whose features drift until the stream processor raises drift alerts. Takes a few
minutes; metrics appear in the console a few seconds after each batch (the processor's windows).
Prints an API key for the console unless DRIFTLINE_KEY is set.

Environment:
  DRIFTLINE_KEY     a key with the score and ingest roles; default: a new key for DEMO_TENANT
  DEMO_TENANT       default demo
  DEMO_VISITORS     scored visitors per phase, default 1500
  DEMO_PAUSE_MS     pause between batches, default 1000
  DRIFTLINE_URL     default http://127.0.0.1:<WORKER_PORT>`;

runIfMain(import.meta.url, async () => {
  parseCommandLine({ command: "npm run demo", usage: USAGE, options: {} });
  const stack = loadLocalStackConfig();
  const baseUrl = process.env.DRIFTLINE_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
  let key = process.env.DRIFTLINE_KEY;
  if (key === undefined) {
    const tenant = process.env.DEMO_TENANT ?? "demo";
    ({ key } = await createApiKey({
      tenant,
      roles: ["admin", "score", "ingest", "read"],
      origins: [],
      name: "npm run demo",
      redis: {
        url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
        token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
      },
    }));
    console.log(`created a key for tenant "${tenant}" (admin, score, ingest, read):\n  ${key}`);
  }
  console.log(`console: ${baseUrl}/dashboard (sign in with the key)\n`);
  await runDemo({
    baseUrl,
    key,
    visitorsPerPhase: Number(process.env.DEMO_VISITORS ?? 1500),
    pauseMs: Number(process.env.DEMO_PAUSE_MS ?? 1000),
    log: (line) => console.log(line),
  });
});
