// What the monitoring stage keeps between batches stays bounded however many versions it sees:
// sliding windows (a byte budget), drift references (an LRU, misses apart) and the per-tenant
// drift series on /metrics (they go with their version's window). The transaction is an
// in-memory fake: these are the stage's own caches, not the store.
import pino from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import {
  type ModelMonitorState,
  policyFromSettings,
  resolveMonitoringSettings,
  type WindowRow,
} from "#core/monitoring";
import { ModelReferenceSource } from "./model-reference-source";
import { MonitoringMetrics } from "./monitoring-metrics";
import { MonitoringStage } from "./monitoring-stage";
import type {
  LockedState,
  ModelKey,
  MonitoringTransaction,
  PredictionRow,
  StoredOverrides,
} from "./monitoring-store";
import { windowSizeBytes } from "./sliding-window-cache";
import { demoManifest, scoredRows } from "./testing/conversion-stream";

const log = pino({ level: "silent" });
const SIZE = 40;
const settings = resolveMonitoringSettings({
  sliding: { size: SIZE, stride: 10, minSample: 20 },
  hourly: { enabled: false, maxRows: 1000 },
});
const id = (k: ModelKey) => `${k.tenant}/${k.model}/${k.version}`;

/** Postgres as the stage sees it, in memory: state rows with their seq, stored predictions. */
class MemoryMonitoring implements MonitoringTransaction {
  readonly states = new Map<string, { seq: number; state: ModelMonitorState }>();
  readonly predictions = new Map<string, PredictionRow[]>();
  /** How often a window was rebuilt from stored predictions, per version. */
  readonly reReads = new Map<string, number>();
  manifestReads = 0;

  async lockStates(keys: readonly ModelKey[], initial: ModelMonitorState): Promise<LockedState[]> {
    return keys.map((key) => {
      const row = this.states.get(id(key)) ?? { seq: 0, state: structuredClone(initial) };
      this.states.set(id(key), row);
      return { key, seq: row.seq, state: structuredClone(row.state) };
    });
  }
  async dueKeys(): Promise<ModelKey[]> {
    return [];
  }
  async monitoringOverrides(): Promise<StoredOverrides[]> {
    return [];
  }
  async maxEventTimes(): Promise<Map<string, number>> {
    return new Map();
  }
  async recentPredictions(key: ModelKey, limit: number): Promise<WindowRow[]> {
    this.reReads.set(id(key), (this.reReads.get(id(key)) ?? 0) + 1);
    return (this.predictions.get(id(key)) ?? []).slice(-limit);
  }
  async insertPredictions(rows: readonly PredictionRow[]): Promise<Set<string>> {
    for (const r of rows) {
      const k = id(r);
      this.predictions.set(k, [...(this.predictions.get(k) ?? []), r]);
    }
    return new Set(rows.map((r) => `${r.tenant}\u0000${r.predictionId}`));
  }
  async recordLabels(): Promise<void> {}
  async resolveLabels(): Promise<number> {
    return 0;
  }
  async predictionsBetween(): Promise<WindowRow[]> {
    return [];
  }
  async labelledBetween() {
    return { scores: [], labels: [], unlabelled: 0 };
  }
  async provisionalKeys(): Promise<ModelKey[]> {
    return [];
  }
  async labelsSoFarFrom() {
    return { scores: [], labels: [], predictedAtMs: [] };
  }
  async deleteProvisionalPerformance(): Promise<void> {}
  async firstPredictionFrom(): Promise<number | undefined> {
    return undefined;
  }
  async lastRetrainRequestAt(): Promise<number | undefined> {
    return undefined;
  }
  async saveState(key: ModelKey, state: ModelMonitorState): Promise<void> {
    const row = this.states.get(id(key))!;
    row.seq += 1;
    row.state = structuredClone(state);
  }
  async insertDriftResults(): Promise<void> {}
  async insertPerformanceResults(): Promise<void> {}
  async insertAlerts(): Promise<number> {
    return 0;
  }
  async insertRetrainRequests(): Promise<number> {
    return 0;
  }
  async loadManifest(): Promise<unknown> {
    this.manifestReads += 1;
    return demoManifest();
  }
}

const NOW = Date.UTC(2026, 10, 22);

/** `n` predictions of one version (the demo model's features), enough for evaluations. */
function predictionsOf(key: ModelKey, n: number, seed: number): PredictionRow[] {
  return scoredRows({ seed, n, startMs: NOW - 3_600_000, stepMs: 1000, idPrefix: id(key) }).map(
    (r) => ({
      ...key,
      predictionId: r.predictionId,
      entityId: undefined,
      score: r.score,
      features: { ...r.features },
      predictedAtMs: r.predictedAtMs,
    }),
  );
}

function stageWith(windowCacheBytes: number, metrics?: MonitoringMetrics) {
  return new MonitoringStage({
    settings,
    policy: policyFromSettings(settings.retrain),
    references: new ModelReferenceSource({ modelsDir: "/nonexistent", log }),
    allowedLatenessMs: 0,
    maxFutureSkewMs: 86_400_000,
    operatorSinks: [],
    log,
    windowCacheBytes,
    ...(metrics ? { observer: metrics } : {}),
  });
}

const versions = (n: number): ModelKey[] =>
  Array.from({ length: n }, (_, i) => ({
    tenant: `t${i % 3}`,
    model: "conversion",
    version: `v${i}`,
  }));

/** The demo model's window: its monitored features and the score. */
const COLUMNS = demoManifest().features as unknown[];
const ONE_WINDOW = windowSizeBytes(SIZE, COLUMNS.length + 1);

describe("the monitoring stage's memory", { timeout: 60_000 }, () => {
  it("keeps the sliding windows of as many versions as its byte budget holds, and rebuilds a dropped one from the store", async () => {
    const db = new MemoryMonitoring();
    const stage = stageWith(Math.floor(2.5 * ONE_WINDOW));
    const keys = versions(12);
    for (const [i, key] of keys.entries()) {
      await stage.apply(db, { predictions: predictionsOf(key, 30, i), signals: [] }, NOW);
      expect(stage.cachedWindows).toBeLessThanOrEqual(2);
    }
    expect(stage.cachedWindows).toBe(2);

    // The first version's window was dropped long ago: seeing it again reads the store once more,
    // and its window holds what the store holds (its earlier 30 plus 30 more, the last SIZE).
    const first = keys[0]!;
    await stage.apply(db, { predictions: predictionsOf(first, 30, 100), signals: [] }, NOW);
    expect(db.reReads.get(id(first))).toBe(2);
    // The last two are still cached: another batch of the newest reads nothing.
    const last = keys[11]!;
    await stage.apply(db, { predictions: predictionsOf(last, 5, 101), signals: [] }, NOW);
    expect(db.reReads.get(id(last))).toBe(1);
  });

  it("drops a version's per-tenant drift series with its window, so retired versions leave /metrics", async () => {
    const registry = new Registry();
    const metrics = new MonitoringMetrics(registry, { tenantLabels: true });
    const db = new MemoryMonitoring();
    const stage = stageWith(Math.floor(2.5 * ONE_WINDOW), metrics);
    for (const [i, key] of versions(12).entries()) {
      await stage.apply(db, { predictions: predictionsOf(key, 30, i), signals: [] }, NOW);
    }
    const psi = await registry.getSingleMetric("driftline_monitoring_psi")!.get();
    const labelledVersions = new Set(psi.values.map((v) => String(v.labels.version)));
    expect([...labelledVersions].sort()).toEqual(["v10", "v11"]);
    expect(metrics.labelledVersions).toBe(2);
    // Each kept version still has a series per monitored column.
    expect(psi.values.length).toBe(2 * (COLUMNS.length + 1));
  });

  it("caps the per-tenant drift series at a number of versions of its own", async () => {
    const registry = new Registry();
    const metrics = new MonitoringMetrics(registry, {
      tenantLabels: true,
      maxLabelledVersions: 3,
    });
    const stage = stageWith(100 * ONE_WINDOW, metrics);
    const db = new MemoryMonitoring();
    for (const [i, key] of versions(8).entries()) {
      await stage.apply(db, { predictions: predictionsOf(key, 30, i), signals: [] }, NOW);
    }
    const psi = await registry.getSingleMetric("driftline_monitoring_psi")!.get();
    expect(new Set(psi.values.map((v) => v.labels.version))).toEqual(new Set(["v5", "v6", "v7"]));
  });
});

describe("ModelReferenceSource's memory", { timeout: 60_000 }, () => {
  const tx = (manifestFor: (k: ModelKey) => unknown) => ({
    loadManifest: async (k: ModelKey) => manifestFor(k),
  });

  it("keeps at most maxReferences prepared references", async () => {
    const source = new ModelReferenceSource({ modelsDir: "/nonexistent", log, maxReferences: 5 });
    for (const key of versions(40)) {
      expect(await source.get(tx(demoManifest), key, NOW)).toBeDefined();
    }
    expect(source.cached.references).toBe(5);
  });

  it("remembers made-up versions apart and boundedly, so they never push out a monitored version's reference", async () => {
    const source = new ModelReferenceSource({
      modelsDir: "/nonexistent",
      log,
      maxReferences: 2,
      maxMissing: 100,
    });
    let reads = 0;
    const registry = tx((k) => {
      reads += 1;
      return k.version === "real" ? demoManifest() : undefined;
    });
    const real = { tenant: "a", model: "conversion", version: "real" };
    const reference = await source.get(registry, real, NOW);
    expect(reference).toBeDefined();
    for (let i = 0; i < 5_000; i++) {
      await source.get(registry, { tenant: "b", model: "conversion", version: `bogus-${i}` }, NOW);
    }
    expect(source.cached).toEqual({ references: 1, missing: 100 });
    const readsBefore = reads;
    expect(await source.get(registry, real, NOW)).toBe(reference);
    expect(reads).toBe(readsBefore);
  });

  it("still refreshes a miss once its short interval has passed (the state is the same as before)", async () => {
    const source = new ModelReferenceSource({ modelsDir: "/nonexistent", log });
    const key = { tenant: "a", model: "m", version: "1" };
    let manifest: unknown;
    expect(
      await source.get(
        tx(() => manifest),
        key,
        NOW,
      ),
    ).toBeUndefined();
    manifest = demoManifest();
    expect(
      await source.get(
        tx(() => manifest),
        key,
        NOW + 60_000,
      ),
    ).toBeDefined();
    expect(source.cached).toEqual({ references: 1, missing: 0 });
  });
});
