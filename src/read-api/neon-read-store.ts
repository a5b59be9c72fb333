/** ReadStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import { Client, Pool, type PoolClient } from "@neondatabase/serverless";
import { ConfigError, DependencyUnavailableError } from "#core/errors";
import {
  type MetricsQuery,
  type MetricsReadResult,
  metricsReadResult,
  metricsStatements,
} from "#core/read-models";
import type {
  AcknowledgeResult,
  AlertEntry,
  AlertQuery,
  AlertStatus,
  AnomalyEntry,
  AnomalyQuery,
  DriftBins,
  DriftEntry,
  DriftPage,
  DriftQuery,
  HealthReadings,
  MonitoringSettingsLayers,
  PerformanceEntry,
  PerformanceQuery,
  ReadStore,
  RetrainEntry,
  RetrainHistoryEntry,
  RetrainQuery,
  RetrainStatus,
  StoredMonitoringSettings,
  TrainingSetPageQuery,
  TrainingSetRow,
  TrainingSetWindow,
} from "./read-store";

export interface NeonReadStoreOptions {
  /** `postgres://…` (the DATABASE_URL secret). */
  databaseUrl: string;
  /** `ws://host:port` of the local WebSocket relay; omit for Neon (wss to the endpoint itself). */
  wsRelayUrl?: string;
  /** Connections one request may open; the metrics read runs its statements concurrently. */
  maxConnections?: number;
}

/** Epoch ms (bigint parameter) to timestamptz, exactly. */
const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;
/** Epoch µs (bigint parameter) to timestamptz: Postgres keeps µs, so cursors compare exactly. */
const TS_US = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 microsecond')`;
const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint::text`;
const US = (col: string) => `(extract(epoch FROM ${col}) * 1000000)::bigint::text`;

type Row = Record<string, unknown>;

const SESSION_SETTINGS = "SET jit = off; SET statement_timeout = 10000";

/**
 * One entry per evaluation of one feature: drift_entries holds the tests of each (psi, ks, js)
 * side by side (a trigger folds every drift_results insert into it), so a page is one range of
 * the (evaluated_at, first_id) index, read with the LIMIT.
 */
const DRIFT_SQL = (filters: string, limit: number) => `
  SELECT ${US("a.evaluated_at")} AS at_us, a.first_id::text AS id, ${MS("a.evaluated_at")} AS at_ms,
    a.version, a.feature, a.window_kind, ${MS("a.window_start")} AS ws, ${MS("a.window_end")} AS we,
    a.current_size::text AS size, a.psi, a.ks, a.ks_p, a.js,
    coalesce(a.feature_drift, a.any_drift) AS drifted, a.bins
  FROM drift_entries a
  WHERE a.tenant_id = $1 AND a.model_name = $2
    AND a.evaluated_at >= ${TS("$3")} AND a.evaluated_at < ${TS("$4")} ${filters}
  ORDER BY a.evaluated_at, a.first_id
  LIMIT ${limit}`;

const PERFORMANCE_SQL = (limit: number) => `
  SELECT ${US("window_start")} AS at_us, id::text AS id, version,
    ${MS("window_start")} AS ws, ${MS("window_end")} AS we,
    sample_size::text AS n, positive_count::text AS positives, auc, log_loss, brier, calibration,
    (details->>'attributionWindowMs')::float8 AS attribution_ms, provisional
  FROM performance_results
  WHERE tenant_id = $1 AND model_name = $2
    AND window_start >= ${TS("$3")} AND window_start < ${TS("$4")}
    AND ($5::text IS NULL OR version = $5)
    AND ($6::bigint IS NULL OR (window_start, id) > (${TS_US("$6")}, $7::bigint))
  ORDER BY window_start, id
  LIMIT ${limit}`;

const HAS_MODEL_SQL = `
  SELECT EXISTS (SELECT 1 FROM model_versions WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM model_pointers WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM drift_results WHERE tenant_id = $1 AND model_name = $2)
      OR EXISTS (SELECT 1 FROM performance_results WHERE tenant_id = $1 AND model_name = $2)
    AS known`;

const ALERTS_SQL = (limit: number) => `
  SELECT ${US("created_at")} AS at_us, alert_id, type, state, model_name, version,
    ${MS("created_at")} AS created_ms, ${MS("acknowledged_at")} AS ack_ms, cloud_event
  FROM alerts
  WHERE tenant_id = $1 AND created_at >= ${TS("$2")} AND created_at < ${TS("$3")}
    AND ($4::text IS NULL OR state = $4) AND ($5::text IS NULL OR type = $5)
    AND ($6::text IS NULL OR model_name = $6)
    AND ($7::bigint IS NULL OR (created_at, alert_id) > (${TS_US("$7")}, $8::text))
  ORDER BY created_at, alert_id
  LIMIT ${limit}`;

const ANOMALY_COLUMNS = `${US("detected_at")} AS at_us, anomaly_id, metric, dimensions, reason,
  ${MS("detected_at")} AS detected_ms, ${MS("resolved_at")} AS resolved_ms, expected, lower_bound,
  upper_bound, observed, score, peak_score`;

const ANOMALIES_SQL = (limit: number) => `
  SELECT ${ANOMALY_COLUMNS}
  FROM anomalies
  WHERE tenant_id = $1 AND detected_at >= ${TS("$2")} AND detected_at < ${TS("$3")}
    AND ($4::text IS NULL OR ($4 = 'open') = (resolved_at IS NULL))
    AND ($5::text IS NULL OR metric = $5)
    AND ($6::bigint IS NULL OR (detected_at, anomaly_id) > (${TS_US("$6")}, $7::text))
  ORDER BY detected_at, anomaly_id
  LIMIT ${limit}`;

/** Open anomalies (the newest 500 at most: the score is capped long before). */
const OPEN_ANOMALIES_SQL = `
  SELECT ${ANOMALY_COLUMNS} FROM anomalies
  WHERE tenant_id = $1 AND resolved_at IS NULL
  ORDER BY detected_at DESC LIMIT 500`;

const MATCH_QUALITY_SQL = `
  SELECT source, sum(match_quality_sum) AS mq_sum, sum(match_quality_count)::text AS mq_count,
    sum(event_count)::text AS events
  FROM metric_windows
  WHERE tenant_id = $1 AND window_seconds = 60 AND source <> 'predictions'
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY source ORDER BY source`;

/** Ingest outcomes of the last 24 h per source (minutes of receipt). */
const OUTCOMES_SQL = `
  SELECT source, sum(accepted)::text AS accepted, sum(duplicates)::text AS duplicates,
    sum(rejected)::text AS rejected, sum(copies)::text AS copies
  FROM ingest_outcome_windows
  WHERE tenant_id = $1
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY source ORDER BY source`;

const PIXELS_SQL = `
  SELECT pixel_id, sum(event_count)::text AS events, sum(match_quality_sum) AS mq_sum,
    sum(match_quality_count)::text AS mq_count
  FROM pixel_minute_windows
  WHERE tenant_id = $1
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY pixel_id ORDER BY pixel_id`;

/** The latest drift and performance alert per subject (a model column or a model version). */
const MODEL_STATES_SQL = `
  SELECT count(*) FILTER (WHERE type = 'dev.driftline.drift.changed')::int AS drifting,
    count(*) FILTER (WHERE type = 'dev.driftline.performance.degraded')::int AS degraded
  FROM (
    SELECT DISTINCT ON (cloud_event->>'subject', split_part(type, '.', 3)) type
    FROM alerts
    WHERE tenant_id = $1 AND type IN ('dev.driftline.drift.changed', 'dev.driftline.drift.recovered',
      'dev.driftline.performance.degraded', 'dev.driftline.performance.recovered')
    ORDER BY cloud_event->>'subject', split_part(type, '.', 3), created_at DESC
  ) latest`;

const OVERFLOW_SQL = `SELECT series_overflow::text AS n FROM anomaly_progress WHERE tenant_id = $1`;

// Only an open alert becomes acknowledged; acknowledging again answers the first time.
const ACKNOWLEDGE_SQL = `
  WITH updated AS (
    UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), updated_at = now()
    WHERE tenant_id = $1 AND alert_id = $2 AND state = 'open'
    RETURNING alert_id, state, acknowledged_at, updated_at
  )
  SELECT alert_id, state, ${MS("coalesce(acknowledged_at, updated_at)")} AS ack_ms FROM updated
  UNION ALL
  SELECT alert_id, state, ${MS("coalesce(acknowledged_at, updated_at)")} AS ack_ms FROM alerts
  WHERE tenant_id = $1 AND alert_id = $2 AND NOT EXISTS (SELECT 1 FROM updated)
  LIMIT 1`;

const RETRAIN_COLUMNS = `${US("requested_at")} AS at_us, request_id, model_name, version, status,
    policy, evidence, ${MS("requested_at")} AS requested_ms, status_reason, status_evidence`;

const RETRAIN_LIST_SQL = (limit: number) => `
  SELECT ${RETRAIN_COLUMNS}
  FROM retrain_requests
  WHERE tenant_id = $1 AND ($2::text IS NULL OR model_name = $2) AND ($3::text IS NULL OR status = $3)
    AND ($4::bigint IS NULL OR (requested_at, request_id) > (${TS_US("$4")}, $5::text))
  ORDER BY requested_at, request_id
  LIMIT ${limit}`;

const RETRAIN_ONE_SQL = `
  SELECT ${RETRAIN_COLUMNS} FROM retrain_requests WHERE tenant_id = $1 AND request_id = $2 LIMIT 1`;

/**
 * A request's training window: the one its retraining job froze (state.cutoffMs, state.sinceMs),
 * else everything settled up to now; with the registered manifest's feature order.
 */
const TRAINING_WINDOW_SQL = `
  SELECT r.model_name, r.version, j.state->>'cutoffMs' AS cutoff_ms, j.state->>'sinceMs' AS since_ms,
    (SELECT jsonb_path_query_array(v.manifest, '$.features[*].name') FROM model_versions v
     WHERE v.tenant_id = r.tenant_id AND v.model_name = r.model_name AND v.version = r.version)
      AS features
  FROM retrain_requests r
  LEFT JOIN retraining_jobs j ON j.tenant_id = r.tenant_id AND j.request_id = r.request_id
  WHERE r.tenant_id = $1 AND r.request_id = $2 LIMIT 1`;

/** Settled rows of a model in a window, oldest first, after a (time, id) key. */
const TRAINING_PAGE_SQL = (limit: number) => `
  SELECT prediction_id, ${MS("predicted_at")} AS at_ms, features, label FROM predictions
  WHERE tenant_id = $1 AND model_name = $2 AND label IS NOT NULL
    AND predicted_at <= ${TS("$3")} AND labelled_at <= ${TS("$3")}
    AND ($4::bigint IS NULL OR predicted_at >= ${TS("$4")})
    AND ($5::bigint IS NULL OR (predicted_at, prediction_id) > (${TS("$5")}, $6::text))
  ORDER BY predicted_at, prediction_id
  LIMIT ${limit}`;

/** A request's status trail is short (a handful of changes); the bound only guards the answer. */
const RETRAIN_HISTORY_SQL = `
  SELECT status, ${MS("at")} AS at_ms, reason FROM retrain_request_history
  WHERE tenant_id = $1 AND request_id = $2 ORDER BY seq LIMIT 1000`;

export class NeonReadStore implements ReadStore {
  private readonly pool: Pool;

  constructor(options: NeonReadStoreOptions) {
    this.pool = createRequestPool(options);
  }

  async readWindows(q: MetricsQuery): Promise<MetricsReadResult> {
    const s = metricsStatements(q);
    const [totals, values, predictions, watermark] = await Promise.all([
      this.rows(s.totals.text, s.totals.values),
      this.rows(s.values.text, s.values.values),
      this.rows(s.predictions.text, s.predictions.values),
      this.rows(s.watermark.text, s.watermark.values),
    ]);
    return metricsReadResult(q, { totals, values, predictions, watermark });
  }

  async listDrift(q: DriftQuery): Promise<DriftPage> {
    const values: unknown[] = [q.tenant, q.model, String(q.fromMs), String(q.toMs)];
    let filters = "";
    if (q.version !== undefined) {
      values.push(q.version);
      filters += ` AND a.version = $${values.length}`;
    }
    if (q.feature !== undefined) {
      values.push(q.feature);
      filters += ` AND a.feature = $${values.length}`;
    }
    if (q.after !== undefined) {
      values.push(q.after.atUs, q.after.id);
      filters += ` AND (a.evaluated_at, a.first_id) > (${TS_US(`$${values.length - 1}`)}, $${values.length}::bigint)`;
    }
    const rows = await this.rows(DRIFT_SQL(filters, q.limit + 1), values);
    return { entries: rows.map(driftEntry) };
  }

  async listPerformance(q: PerformanceQuery): Promise<PerformanceEntry[]> {
    const rows = await this.rows(PERFORMANCE_SQL(q.limit + 1), [
      q.tenant,
      q.model,
      String(q.fromMs),
      String(q.toMs),
      q.version ?? null,
      q.after?.atUs ?? null,
      q.after?.id ?? null,
    ]);
    return rows.map((r) => ({
      key: { atUs: String(r.at_us), id: String(r.id) },
      version: String(r.version),
      windowStartMs: Number(r.ws),
      windowEndMs: Number(r.we),
      attributionWindowMs: nullableNumber(r.attribution_ms) ?? undefined,
      provisional: r.provisional === true,
      n: Number(r.n),
      positives: Number(r.positives),
      auc: nullableNumber(r.auc),
      logLoss: Number(r.log_loss),
      brier: Number(r.brier),
      calibration: calibrationBins(r.calibration),
    }));
  }

  async hasModel(tenant: string, model: string): Promise<boolean> {
    const rows = await this.rows(HAS_MODEL_SQL, [tenant, model]);
    return rows[0]?.known === true;
  }

  async listAlerts(q: AlertQuery): Promise<AlertEntry[]> {
    const rows = await this.rows(ALERTS_SQL(q.limit + 1), [
      q.tenant,
      String(q.fromMs),
      String(q.toMs),
      q.status ?? null,
      q.type ?? null,
      q.model ?? null,
      q.after?.atUs ?? null,
      q.after?.id ?? null,
    ]);
    return rows.map((r) => ({
      key: { atUs: String(r.at_us), id: String(r.alert_id) },
      id: String(r.alert_id),
      type: String(r.type),
      status: r.state as AlertStatus,
      model: (r.model_name as string | null) ?? null,
      version: (r.version as string | null) ?? null,
      createdAtMs: Number(r.created_ms),
      acknowledgedAtMs: r.ack_ms === null || r.ack_ms === undefined ? null : Number(r.ack_ms),
      event: r.cloud_event as Record<string, unknown>,
    }));
  }

  async listAnomalies(q: AnomalyQuery): Promise<AnomalyEntry[]> {
    const rows = await this.rows(ANOMALIES_SQL(q.limit + 1), [
      q.tenant,
      String(q.fromMs),
      String(q.toMs),
      q.status ?? null,
      q.metric ?? null,
      q.after?.atUs ?? null,
      q.after?.id ?? null,
    ]);
    return rows.map(anomalyEntry);
  }

  async healthReadings(tenant: string, nowMs: number): Promise<HealthReadings> {
    const [open, quality, states, overflow, outcomes, pixels] = await Promise.all([
      this.rows(OPEN_ANOMALIES_SQL, [tenant]),
      this.rows(MATCH_QUALITY_SQL, [tenant, String(nowMs)]),
      this.rows(MODEL_STATES_SQL, [tenant]),
      this.rows(OVERFLOW_SQL, [tenant]),
      this.rows(OUTCOMES_SQL, [tenant, String(nowMs)]),
      this.rows(PIXELS_SQL, [tenant, String(nowMs)]),
    ]);
    return {
      openAnomalies: open.map(anomalyEntry),
      matchQuality: quality.map((r) => ({
        source: String(r.source),
        sum: Number(r.mq_sum),
        count: Number(r.mq_count),
        events: Number(r.events),
      })),
      driftingColumns: Number(states[0]?.drifting ?? 0),
      degradedModels: Number(states[0]?.degraded ?? 0),
      seriesOverflow: Number(overflow[0]?.n ?? 0),
      pixels: pixels.map((r) => ({
        pixel: String(r.pixel_id),
        events: Number(r.events),
        sum: Number(r.mq_sum),
        count: Number(r.mq_count),
      })),
      outcomes: outcomes.map((r) => ({
        source: String(r.source),
        accepted: Number(r.accepted),
        duplicates: Number(r.duplicates),
        rejected: Number(r.rejected),
        copies: Number(r.copies),
      })),
    };
  }

  async acknowledgeAlert(tenant: string, id: string): Promise<AcknowledgeResult> {
    const [row] = await this.rows(ACKNOWLEDGE_SQL, [tenant, id]);
    if (row === undefined) return { kind: "not-found" };
    if (row.state === "resolved") return { kind: "resolved" };
    return { kind: "acknowledged", id: String(row.alert_id), acknowledgedAtMs: Number(row.ack_ms) };
  }

  async listRetrainRequests(q: RetrainQuery): Promise<RetrainEntry[]> {
    const rows = await this.rows(RETRAIN_LIST_SQL(q.limit + 1), [
      q.tenant,
      q.model ?? null,
      q.status ?? null,
      q.after?.atUs ?? null,
      q.after?.id ?? null,
    ]);
    return rows.map(retrainEntry);
  }

  async getRetrainRequest(
    tenant: string,
    id: string,
  ): Promise<(RetrainEntry & { history: RetrainHistoryEntry[] }) | undefined> {
    const [request, history] = await Promise.all([
      this.rows(RETRAIN_ONE_SQL, [tenant, id]),
      this.rows(RETRAIN_HISTORY_SQL, [tenant, id]),
    ]);
    const row = request[0];
    if (row === undefined) return undefined;
    return {
      ...retrainEntry(row),
      history: history.map((h) => ({
        status: String(h.status),
        atMs: Number(h.at_ms),
        reason: (h.reason as string | null) ?? null,
      })),
    };
  }

  async trainingSetWindow(
    tenant: string,
    id: string,
    nowMs: number,
  ): Promise<TrainingSetWindow | undefined> {
    const row = (await this.rows(TRAINING_WINDOW_SQL, [tenant, id]))[0];
    if (row === undefined) return undefined;
    const features = Array.isArray(row.features) ? row.features.map(String) : null;
    return {
      model: String(row.model_name),
      version: String(row.version),
      features,
      cutoffMs:
        row.cutoff_ms === null || row.cutoff_ms === undefined ? nowMs : Number(row.cutoff_ms),
      sinceMs: row.since_ms === null || row.since_ms === undefined ? null : Number(row.since_ms),
    };
  }

  async trainingSetPage(q: TrainingSetPageQuery): Promise<TrainingSetRow[]> {
    const rows = await this.rows(TRAINING_PAGE_SQL(q.limit), [
      q.tenant,
      q.window.model,
      String(q.window.cutoffMs),
      q.window.sinceMs === null ? null : String(q.window.sinceMs),
      q.after === undefined ? null : String(q.after.atMs),
      q.after?.id ?? null,
    ]);
    return rows.map((r) => ({
      id: String(r.prediction_id),
      predictedAtMs: Number(r.at_ms),
      features: r.features as Record<string, unknown>,
      label: r.label === true,
    }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  async monitoringSettings(
    tenant: string,
    model: string | undefined,
  ): Promise<MonitoringSettingsLayers> {
    const rows = await this.rows(SETTINGS_LAYERS_SQL, [
      tenant,
      model === undefined ? [""] : ["", model],
    ]);
    const layers: MonitoringSettingsLayers = {
      operator: undefined,
      tenant: undefined,
      model: undefined,
    };
    for (const r of rows) {
      if (r.kind === "operator") {
        layers.operator = { settings: r.overrides, updatedAtMs: Number(r.updated_ms) };
      } else if (r.model_name === "") layers.tenant = storedSettings(r);
      else layers.model = storedSettings(r);
    }
    return layers;
  }

  async saveMonitoringSettings(
    tenant: string,
    model: string | undefined,
    overrides: Record<string, unknown>,
  ): Promise<StoredMonitoringSettings> {
    const [row] = await this.rows(SAVE_SETTINGS_SQL, [
      tenant,
      model ?? "",
      JSON.stringify(overrides),
    ]);
    return storedSettings(row as Row);
  }

  private async rows(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (error) {
      throw new DependencyUnavailableError(
        `The read database is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
        { cause: error },
      );
    }
  }
}

const SETTINGS_LAYERS_SQL = `
  SELECT 'level' AS kind, model_name, overrides, revision::text AS revision,
    ${MS("updated_at")} AS updated_ms
  FROM monitoring_settings WHERE tenant_id = $1 AND model_name = ANY($2::text[])
  UNION ALL
  SELECT 'operator', '', settings, '0', ${MS("updated_at")} FROM monitoring_settings_defaults`;

const SAVE_SETTINGS_SQL = `
  INSERT INTO monitoring_settings (tenant_id, model_name, overrides, revision, updated_at)
  VALUES ($1, $2, $3::jsonb, 1, now())
  ON CONFLICT (tenant_id, model_name) DO UPDATE
    SET overrides = EXCLUDED.overrides, revision = monitoring_settings.revision + 1,
        updated_at = now()
  RETURNING overrides, revision::text AS revision, ${MS("updated_at")} AS updated_ms`;

function storedSettings(r: Row): StoredMonitoringSettings {
  return {
    overrides: (r.overrides as Record<string, unknown> | null) ?? {},
    revision: Number(r.revision),
    updatedAtMs: Number(r.updated_ms),
  };
}

function driftEntry(r: Row): DriftEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.id) },
    evaluatedAtMs: Number(r.at_ms),
    version: String(r.version),
    feature: String(r.feature),
    window: {
      kind: String(r.window_kind),
      fromMs: Number(r.ws),
      toMs: Number(r.we),
      size: Number(r.size),
    },
    psi: nullableNumber(r.psi),
    ks:
      r.ks === null || r.ks === undefined
        ? null
        : { statistic: Number(r.ks), pValue: Number(r.ks_p) },
    jensenShannon: nullableNumber(r.js),
    drifted: r.drifted === true,
    bins: driftBins(r.bins),
  };
}

function nullableNumber(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function retrainEntry(r: Row): RetrainEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.request_id) },
    id: String(r.request_id),
    model: String(r.model_name),
    version: String(r.version),
    status: r.status as RetrainStatus,
    policy: String(r.policy),
    evidence: r.evidence as Record<string, unknown>,
    requestedAtMs: Number(r.requested_ms),
    reason: typeof r.status_reason === "string" ? r.status_reason : null,
    statusEvidence: (r.status_evidence as Record<string, unknown> | null) ?? null,
  };
}

/** The PSI row's stored bins (see the core's driftResultRows) as the histogram a client redraws. */
/** The entry's bins, stored in the API's shape by drift_entry_bins (see its migration). */
function driftBins(stored: unknown): DriftBins | null {
  if (typeof stored !== "object" || stored === null || Array.isArray(stored)) return null;
  const s = stored as Partial<DriftBins>;
  return Array.isArray(s.reference) && Array.isArray(s.current) ? (s as DriftBins) : null;
}

function calibrationBins(stored: unknown): PerformanceEntry["calibration"] {
  if (!Array.isArray(stored)) return [];
  return stored.map((b: Record<string, unknown>) => ({
    predicted: Number(b.meanPredicted),
    observed: Number(b.observedRate),
    n: Number(b.count),
  }));
}

/**
 * A Pool whose connections carry their own driver settings: with a relay (local stack) every
 * connection speaks cleartext WebSocket frames to it without Neon-proxy pipelining; without,
 * Neon's defaults apply. Nothing here touches the global `neonConfig`.
 */
export function createRequestPool(options: NeonReadStoreOptions): Pool {
  const relay = options.wsRelayUrl === undefined ? undefined : relayBase(options.wsRelayUrl);

  class ReadClient extends Client {
    constructor(config?: ConstructorParameters<typeof Client>[0]) {
      super(config);
      if (relay === undefined) return;
      const neon = this.neonConfig;
      neon.wsProxy = (host, port) => `${relay.base}/v2?address=${host}:${port}`;
      neon.useSecureWebSocket = relay.secure;
      // Both pipelinings are Neon-proxy features: pipelineConnect sends a cleartext password
      // before the server asks, pipelineTLS expects Neon's TLS.
      neon.pipelineConnect = false;
      neon.pipelineTLS = false;
      // Coalescing waits a tick to merge writes: a saving over the internet, a loss on loopback.
      neon.coalesceWrites = false;
    }
  }

  class ReadPool extends Pool {
    // pg-pool builds each connection with `new this.Client(options)`.
    override Client = ReadClient;
  }

  const pool = new ReadPool({
    connectionString: options.databaseUrl,
    max: options.maxConnections ?? 2,
    connectionTimeoutMillis: 10_000,
  });
  // Per session, set once each connection opens (Neon's pooler refuses start-up options): reads
  // are short index walks, and JIT compilation, triggered by the planner's cost estimate of
  // LIMITed nested loops, cost ~50 ms per query on them; a runaway read ends after 10 s.
  pool.on("connect", (client: PoolClient) => {
    client.query(SESSION_SETTINGS).catch(() => undefined);
  });
  // An idle connection that drops (the pool ending, the relay or Neon closing it) is discarded by
  // the pool; without a listener the event would surface as an uncaught error in the isolate.
  pool.on("error", () => undefined);
  return pool;
}

function relayBase(wsRelayUrl: string): { base: string; secure: boolean } {
  let url: URL;
  try {
    url = new URL(wsRelayUrl);
  } catch {
    throw new ConfigError(
      `NEON_WS_RELAY_URL "${wsRelayUrl}" is not a URL: expected ws://host:port.`,
    );
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new ConfigError(
      `NEON_WS_RELAY_URL must start with ws:// or wss:// (got ${url.protocol}).`,
    );
  }
  // The driver prepends ws:// or wss:// itself; it wants host[:port] and path.
  return {
    base: `${url.host}${url.pathname.replace(/\/+$/, "")}`,
    secure: url.protocol === "wss:",
  };
}

function anomalyEntry(r: Row): AnomalyEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.anomaly_id) },
    id: String(r.anomaly_id),
    metric: String(r.metric),
    dimensions: r.dimensions as Record<string, string>,
    reason: String(r.reason),
    detectedAtMs: Number(r.detected_ms),
    resolvedAtMs:
      r.resolved_ms === null || r.resolved_ms === undefined ? null : Number(r.resolved_ms),
    expected: Number(r.expected),
    lower: Number(r.lower_bound),
    upper: Number(r.upper_bound),
    observed: Number(r.observed),
    score: Number(r.score),
    peakScore: Number(r.peak_score),
  };
}
