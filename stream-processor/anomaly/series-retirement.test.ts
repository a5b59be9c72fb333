/** The anomaly stage's series retirement, on an in-memory AnomalyTransaction (the stage's logic; Postgres is covered by series-lifecycle.int.test.ts). */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createRandom, poissonFromUniform } from "#core/random";
import { MINUTE_MS } from "#core/windows";
import type { BatchTransaction } from "../batch/batch-transaction";
import { AnomalyStage } from "./anomaly-stage";
import type {
  AnomalyTransaction,
  AnomalyUpdate,
  SeriesWrite,
  StoredSeries,
  TenantProgress,
} from "./anomaly-store";
import type { MinuteRow } from "./kpi-series";

const HOUR_MS = 3_600_000;
const T0 = Date.UTC(2026, 10, 2);
const HISTORY_MIN = 26 * 60;
const RETIRE_AFTER_MS = 2 * HOUR_MS;

/** Stored state as the Postgres repository keeps it, in memory. */
class MemoryAnomalies implements AnomalyTransaction {
  watermarkMs = 0;
  rows: MinuteRow[] = [];
  progress: TenantProgress | undefined;
  readonly series = new Map<string, SeriesWrite>();
  readonly deleted: string[] = [];
  readonly updates: AnomalyUpdate[] = [];
  readonly alertTypes: string[] = [];

  async idleTenants() {
    return [];
  }
  async maxEventTimes() {
    return new Map([["shop", this.watermarkMs]]);
  }
  async lockProgress() {
    this.progress ??= { evaluatedBeforeMs: T0, stateThroughMs: T0 };
    return new Map([["shop", { ...this.progress }]]);
  }
  async minuteRows(ranges: readonly { tenant: string; fromMs: number; toMs: number }[]) {
    const r = ranges[0]!;
    return new Map([
      ["shop", this.rows.filter((w) => w.windowStartMs >= r.fromMs && w.windowStartMs < r.toMs)],
    ]);
  }
  async minuteOutcomes() {
    return new Map();
  }
  async minuteScores() {
    return new Map();
  }
  async applyPixelDeltas() {}
  async minutePixels() {
    return new Map();
  }
  async loadSeries(): Promise<StoredSeries[]> {
    return [...this.series.values()];
  }
  async saveSeries(series: readonly SeriesWrite[]) {
    for (const s of series) this.series.set(s.key, s);
  }
  async deleteSeries(series: readonly { tenant: string; key: string }[]) {
    for (const s of series) {
      this.series.delete(s.key);
      this.deleted.push(s.key);
    }
  }
  async insertAnomalies() {}
  async updateAnomalies(updates: readonly AnomalyUpdate[]) {
    this.updates.push(...updates);
  }
  async saveProgress(progress: readonly (TenantProgress & { tenant: string })[]) {
    const p = progress[0]!;
    this.progress = { evaluatedBeforeMs: p.evaluatedBeforeMs, stateThroughMs: p.stateThroughMs };
  }
  async insertAlerts(alerts: readonly { type: string }[]) {
    this.alertTypes.push(...alerts.map((a) => a.type));
    return alerts.length;
  }
}

const row = (minute: number, eventName: string, eventCount: number): MinuteRow => ({
  windowStartMs: T0 + minute * MINUTE_MS,
  source: "capi",
  eventName,
  campaign: "",
  eventCount,
  matchQualitySum: 0,
  matchQualityCount: 0,
  predictionCount: 0,
  conversionCount: 0,
  values: [],
});

describe("series retirement", () => {
  it("retires a series silent for the configured time, resolving its open anomaly, and frees its slot", async () => {
    const rand = createRandom(7);
    const store = new MemoryAnomalies();
    // Lead at ~3 a minute for 26 h (past the warm-up), then nothing; PageView throughout.
    for (let m = 0; m < HISTORY_MIN + 4 * 60; m++) {
      if (m < HISTORY_MIN) store.rows.push(row(m, "Lead", poissonFromUniform(3, rand.next())));
      store.rows.push(row(m, "PageView", 1 + poissonFromUniform(2, rand.next())));
    }
    const lastLead = store.rows.filter((r) => r.eventName === "Lead" && r.eventCount > 0).at(-1)!;
    const stage = new AnomalyStage({
      config: {
        maxSeriesPerTenant: 2,
        maxMinutesPerBatch: 100_000,
        checkpointMinutes: 10,
        maxCachedSeries: 1_000,
        retireAfterMs: RETIRE_AFTER_MS,
        idleCloseMs: 0,
        idleMaxLagMs: 0,
        allowedLatenessMs: 0,
        alertSource: "/test",
        operatorSinks: [],
      },
      open: () => store,
      log: pino({ level: "silent" }),
    });
    const tx = {} as BatchTransaction; // the in-memory repository ignores the connection
    const records = [{ observation: { kind: "event" as const, tenant: "shop" }, input: undefined }];

    // Through an hour after the drop: the drop to zero is open, Lead still holds its slot.
    store.watermarkMs = T0 + (HISTORY_MIN + 60) * MINUTE_MS;
    await stage.apply(tx, records);
    expect(store.alertTypes).toEqual(["dev.driftline.anomaly.detected"]);
    const leadKey = JSON.stringify(["events", "capi", "Lead", ""]);
    expect(store.series.get(leadKey)?.openAnomaly).not.toBeNull();
    expect(store.series.get(leadKey)?.lastDataMs).toBe(lastLead.windowStartMs);

    // A new event name arrives while the cap (2) is full: not watched.
    store.rows.push(row(HISTORY_MIN + 70, "Signup", 5));
    // Through three hours after the drop: retired two hours after Lead's last event, with its
    // anomaly resolved at that minute; the Signup after that takes the freed slot.
    store.rows.push(row(HISTORY_MIN + 200, "Signup", 5));
    store.watermarkMs = T0 + (HISTORY_MIN + 4 * 60) * MINUTE_MS;
    await stage.apply(tx, records);
    expect(store.alertTypes).toEqual([
      "dev.driftline.anomaly.detected",
      "dev.driftline.anomaly.resolved",
    ]);
    expect(store.updates.filter((u) => u.resolvedAtMs !== undefined)).toEqual([
      expect.objectContaining({ resolvedAtMs: lastLead.windowStartMs + RETIRE_AFTER_MS }),
    ]);
    expect(store.deleted).toEqual([leadKey]);
    expect([...store.series.keys()].sort()).toEqual([
      JSON.stringify(["events", "capi", "PageView", ""]),
      JSON.stringify(["events", "capi", "Signup", ""]),
    ]);
  });
});
