/** ReadStore on Postgres through the Neon serverless driver: a Pool per request, ended with it. */
import type { Pool } from "@neondatabase/serverless";
import { DependencyUnavailableError } from "#core/errors";
import {
  type MetricsQuery,
  type MetricsReadResult,
  metricsReadResult,
  metricsStatements,
} from "#core/read-models";
import { acknowledgeAlert, listAlerts } from "./alert-reads";
import { listDrift } from "./drift-reads";
import { explanationSummary, listExplanations } from "./explanation-reads";
import { healthReadings, listAnomalies } from "./health-reads";
import { hasModel, listPerformance } from "./performance-reads";
import type {
  AcknowledgeResult,
  AlertEntry,
  AlertQuery,
  AnomalyEntry,
  AnomalyQuery,
  DriftPage,
  DriftQuery,
  ExplainedPrediction,
  ExplanationQuery,
  ExplanationSummary,
  HealthReadings,
  MonitoringSettingsLayers,
  PerformanceEntry,
  PerformanceQuery,
  ReadStore,
  RetrainEntry,
  RetrainHistoryEntry,
  RetrainQuery,
  StoredMonitoringSettings,
  TrainingSetPageQuery,
  TrainingSetRow,
  TrainingSetWindow,
} from "./read-store";
import { createRequestPool, type NeonReadStoreOptions } from "./request-pool";
import {
  getRetrainRequest,
  listRetrainRequests,
  trainingSetPage,
  trainingSetWindow,
} from "./retraining-reads";
import { monitoringSettings, saveMonitoringSettings } from "./settings-reads";
import type { QueryRows, Row } from "./sql-rows";

// The pool is shared by the Neon adapters of other capabilities (audit, webhooks, destinations).
export { createRequestPool, type NeonReadStoreOptions } from "./request-pool";

/** Each read's SQL lives with its concern (`*-reads.ts`); this class runs them on one pool. */
export class NeonReadStore implements ReadStore {
  private readonly pool: Pool;
  private readonly query: QueryRows = (text, values) => this.rows(text, values);

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

  listDrift(q: DriftQuery): Promise<DriftPage> {
    return listDrift(this.query, q);
  }

  listPerformance(q: PerformanceQuery): Promise<PerformanceEntry[]> {
    return listPerformance(this.query, q);
  }

  listExplanations(q: ExplanationQuery): Promise<ExplainedPrediction[]> {
    return listExplanations(this.query, q);
  }

  explanationSummary(q: Omit<ExplanationQuery, "after" | "limit">): Promise<ExplanationSummary> {
    return explanationSummary(this.query, q);
  }

  hasModel(tenant: string, model: string): Promise<boolean> {
    return hasModel(this.query, tenant, model);
  }

  listAlerts(q: AlertQuery): Promise<AlertEntry[]> {
    return listAlerts(this.query, q);
  }

  listAnomalies(q: AnomalyQuery): Promise<AnomalyEntry[]> {
    return listAnomalies(this.query, q);
  }

  healthReadings(tenant: string, nowMs: number): Promise<HealthReadings> {
    return healthReadings(this.query, tenant, nowMs);
  }

  acknowledgeAlert(tenant: string, id: string): Promise<AcknowledgeResult> {
    return acknowledgeAlert(this.query, tenant, id);
  }

  listRetrainRequests(q: RetrainQuery): Promise<RetrainEntry[]> {
    return listRetrainRequests(this.query, q);
  }

  getRetrainRequest(
    tenant: string,
    id: string,
  ): Promise<(RetrainEntry & { history: RetrainHistoryEntry[] }) | undefined> {
    return getRetrainRequest(this.query, tenant, id);
  }

  trainingSetWindow(
    tenant: string,
    id: string,
    nowMs: number,
  ): Promise<TrainingSetWindow | undefined> {
    return trainingSetWindow(this.query, tenant, id, nowMs);
  }

  trainingSetPage(q: TrainingSetPageQuery): Promise<TrainingSetRow[]> {
    return trainingSetPage(this.query, q);
  }

  monitoringSettings(tenant: string, model: string | undefined): Promise<MonitoringSettingsLayers> {
    return monitoringSettings(this.query, tenant, model);
  }

  saveMonitoringSettings(
    tenant: string,
    model: string | undefined,
    overrides: Record<string, unknown>,
  ): Promise<StoredMonitoringSettings> {
    return saveMonitoringSettings(this.query, tenant, model, overrides);
  }

  async close(): Promise<void> {
    await this.pool.end();
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
