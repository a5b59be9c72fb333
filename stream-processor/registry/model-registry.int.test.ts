/**
 * The model registry end to end on the stream side: records produced to Kafka as the Worker's
 * queue consumer produces them → the stream processor → Postgres model_versions / model_pointers,
 * exactly once, following promotions (also out of order), tenant by tenant; and monitoring reads
 * the registered reference before the bundled file.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Message } from "kafkajs";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ModelManifest, parseModelManifest } from "#core/model-manifest";
import {
  buildUploadedRecord,
  type ModelPromoted,
  modelRegistryKey,
  promotedNotice,
  uploadedNotice,
} from "#core/model-registry-message";
import { type IntegrationEnv, startIntegrationEnv } from "../../test/support/integration-env";
import { loadStreamConfig } from "../config";
import { type StreamProcessor, startStreamProcessor } from "../main";
import { ModelReferenceSource } from "../monitoring/model-reference-source";
import { NeonMonitoringTransaction } from "../monitoring/neon-monitoring-store";

const MODELS_DIR = resolve(import.meta.dirname, "../../models");
const bundled = parseModelManifest(
  JSON.parse(readFileSync(resolve(MODELS_DIR, "conversion/1/manifest.json"), "utf8")),
);
const SHA = (c: string) => c.repeat(64);
const T = (minute: number) => new Date(Date.UTC(2026, 10, 22, 10, minute)).toISOString();
const silent = pino({ level: "silent" });

/** The value the Worker's queue consumer produces for an upload (manifest read from R2). */
function uploadRecord(
  tenant: string,
  name: string,
  version: string,
  manifest: ModelManifest,
  sha: string,
): Message {
  const built = buildUploadedRecord(uploadedNotice(tenant, name, version), {
    manifest: { ...manifest, name, version },
    uploadedAt: T(0),
    sizeBytes: 2048,
    sha256: sha,
  });
  if (!built.ok) throw new Error(built.reason);
  return { key: modelRegistryKey(tenant, name), value: JSON.stringify(built.record) };
}

function promoteRecord(tenant: string, name: string, active: ModelPromoted["active"]): Message {
  return {
    key: modelRegistryKey(tenant, name),
    value: JSON.stringify(promotedNotice(tenant, name, active)),
  };
}

interface VersionRow {
  tenant_id: string;
  model_name: string;
  version: string;
  status: string;
  challenger_share: number | null;
  promoted_at: string | null;
}

describe("model registry from Kafka into Postgres (real Kafka, real Postgres)", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("registry");
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  const start = async () => {
    processor = await startStreamProcessor(
      loadStreamConfig(env.env({ MONITORING_MODELS_DIR: MODELS_DIR })),
      { log: silent },
    );
  };
  const drained = () => env.drained([env.topics.models]);
  const versions = async () =>
    (
      await env.db.query<VersionRow>(
        `SELECT tenant_id, model_name, version, status, challenger_share,
                to_char(promoted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS promoted_at
         FROM model_versions ORDER BY tenant_id, model_name, version`,
      )
    ).rows;
  const statusOf = (rows: VersionRow[]) =>
    rows.map(
      (r) =>
        `${r.tenant_id}/${r.model_name}/${r.version}:${r.status}${r.challenger_share === null ? "" : `@${r.challenger_share}`}`,
    );

  it("registers uploads once with their reference, tenant by tenant, and applies the promotion", async () => {
    const upload = uploadRecord("acme", "conversion", "2", bundled, SHA("a"));
    await env.produce(env.topics.models, [
      upload,
      uploadRecord("acme", "conversion", "3", bundled, SHA("b")),
      // A producer retry: the exact same record again, later in the partition.
      upload,
      promoteRecord("acme", "conversion", { champion: "2", promotedAt: T(1) }),
      // A promotion that arrives before the upload it names (the edge queue reordered them).
      promoteRecord("acme", "lead", { champion: "1", promotedAt: T(1) }),
      uploadRecord("acme", "lead", "1", bundled, SHA("c")),
      // Another tenant's model of the same name and version.
      uploadRecord("globex", "conversion", "2", bundled, SHA("d")),
      { key: "acme:conversion", value: '{"schemaVersion":1,"kind":"model-version"' },
    ]);
    await start();
    await drained();

    const rows = await versions();
    expect(statusOf(rows)).toEqual([
      "acme/conversion/2:champion",
      "acme/conversion/3:candidate",
      "acme/lead/1:champion",
      "globex/conversion/2:candidate",
    ]);
    expect(rows[0]!.promoted_at).toBe(T(1));

    const { rows: stored } = await env.db.query<{
      manifest: Record<string, unknown>;
      reference_bins: unknown;
      reference_trimmed: unknown;
      onnx_sha256: string;
      onnx_size_bytes: string;
      created_at: Date;
    }>(
      `SELECT manifest, reference_bins, reference_trimmed, onnx_sha256, onnx_size_bytes::text, created_at
       FROM model_versions WHERE tenant_id = 'acme' AND model_name = 'conversion' AND version = '2'`,
    );
    const row = stored[0]!;
    // The reference is stored once, in reference_bins; the rest of the manifest as uploaded.
    expect(row.reference_bins).toEqual(bundled.reference);
    const { reference: _reference, ...rest } = bundled;
    expect(row.manifest).toEqual({ ...rest, name: "conversion", version: "2" });
    expect(row).toMatchObject({
      reference_trimmed: null,
      onnx_sha256: SHA("a"),
      onnx_size_bytes: "2048",
      created_at: new Date(T(0)),
    });
    const { rows: tenants } = await env.db.query<{ tenant_id: string }>(
      "SELECT tenant_id FROM tenants ORDER BY tenant_id",
    );
    expect(tenants.map((t) => t.tenant_id)).toEqual(["acme", "globex"]);

    // The undecodable record went to the dead-letter topic, and nothing else did.
    const dlq = env.kafka.admin();
    await dlq.connect();
    const ends = await dlq.fetchTopicOffsets(env.topics.dlq);
    await dlq.disconnect();
    expect(ends.reduce((n, p) => n + Number(p.high), 0)).toBe(1);
  });

  it("lets monitoring read the registered reference before the bundled manifest", async () => {
    // A tenant's registry entry for a name and version the models folder also has.
    const narrowed: ModelManifest = {
      ...bundled,
      reference: {
        ...bundled.reference!,
        features: { cart_value: bundled.reference!.features.cart_value! },
      },
    };
    await env.produce(env.topics.models, [
      uploadRecord("initech", "conversion", "1", narrowed, SHA("e")),
    ]);
    await drained();
    const references = new ModelReferenceSource({ modelsDir: MODELS_DIR, log: silent });
    const tx = new NeonMonitoringTransaction(env.db);
    const registered = await references.get(
      tx,
      { tenant: "initech", model: "conversion", version: "1" },
      Date.now(),
    );
    expect(registered?.columns.map((c) => c.name)).toEqual(["cart_value", "__score__"]);
    // Another tenant without an entry falls back to the bundled file (all its features + score).
    const fallback = await references.get(
      tx,
      { tenant: "acme", model: "conversion", version: "1" },
      Date.now(),
    );
    expect(fallback?.columns).toHaveLength(Object.keys(bundled.reference!.features).length + 1);
    // An upload registered above: its reference comes from model_versions.
    const uploaded = await references.get(
      tx,
      { tenant: "acme", model: "conversion", version: "2" },
      Date.now(),
    );
    expect(uploaded?.columns).toHaveLength(Object.keys(bundled.reference!.features).length + 1);
  });

  it("follows promotions across a restart, ignores an older one that arrives late, and swaps roles", async () => {
    await processor?.stop();
    processor = undefined;
    await env.produce(env.topics.models, [
      promoteRecord("acme", "conversion", {
        champion: "3",
        challenger: { version: "2", share: 0.25 },
        promotedAt: T(5),
      }),
      // Older than the one above: the edge queue delivered it late.
      promoteRecord("acme", "conversion", { champion: "2", promotedAt: T(3) }),
      // The newest promotion again (a retried request): changes nothing.
      promoteRecord("acme", "conversion", {
        champion: "3",
        challenger: { version: "2", share: 0.25 },
        promotedAt: T(5),
      }),
    ]);
    await start();
    await drained();
    let rows = (await versions()).filter((r) => r.tenant_id === "acme");
    expect(statusOf(rows)).toEqual([
      "acme/conversion/2:challenger@0.25",
      "acme/conversion/3:champion",
      "acme/lead/1:champion",
    ]);
    expect(rows.slice(0, 2).map((r) => r.promoted_at)).toEqual([T(5), T(5)]);

    // Champion and challenger swap in one promotion (the unique indexes allow one of each).
    await env.produce(env.topics.models, [
      promoteRecord("acme", "conversion", {
        champion: "2",
        challenger: { version: "3", share: 0.5 },
        promotedAt: T(7),
      }),
      promoteRecord("globex", "conversion", { champion: "2", promotedAt: T(7) }),
    ]);
    await drained();
    rows = await versions();
    expect(statusOf(rows)).toEqual([
      "acme/conversion/2:champion",
      "acme/conversion/3:challenger@0.5",
      "acme/lead/1:champion",
      "globex/conversion/2:champion",
      "initech/conversion/1:candidate",
    ]);
    const { rows: pointers } = await env.db.query(
      `SELECT tenant_id, model_name, champion, challenger, challenger_share
       FROM model_pointers ORDER BY tenant_id, model_name`,
    );
    expect(pointers).toEqual([
      {
        tenant_id: "acme",
        model_name: "conversion",
        champion: "2",
        challenger: "3",
        challenger_share: 0.5,
      },
      {
        tenant_id: "acme",
        model_name: "lead",
        champion: "1",
        challenger: null,
        challenger_share: null,
      },
      {
        tenant_id: "globex",
        model_name: "conversion",
        champion: "2",
        challenger: null,
        challenger_share: null,
      },
    ]);
    // Every record of the topic is behind the stored offsets exactly once.
    const admin = env.kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(env.topics.models);
    await admin.disconnect();
    const { rows: offsets } = await env.db.query<{ total: string }>(
      "SELECT sum(next_offset)::text AS total FROM consumer_offsets WHERE group_id = $1 AND topic = $2",
      [env.groupId, env.topics.models],
    );
    expect(Number(offsets[0]!.total)).toBe(ends.reduce((n, p) => n + Number(p.high), 0));
    expect(Number(offsets[0]!.total)).toBe(14);
  });
});
