/**
 * Postgres for the retraining worker: requests and their jobs, the status moves (with their
 * alerts and outbox deliveries, in one transaction), settled predictions, per-arm outcomes,
 * automation settings and operator commands. Every statement filters by tenant, except the
 * job queue, which is the operator's and is polled across tenants by due time.
 */
import type { RetrainingAlert, RetrainingStatus, SettledRow } from "#core/retraining";
import { planAlertDeliveries, type WebhookSubscription } from "#core/webhooks";
import type { Pool, PoolClient } from "./create-pool";

/** timestamptz ↔ epoch ms, exactly. */
const TS = (param: string) =>
  `('epoch'::timestamptz + ${param}::bigint * interval '1 millisecond')`;
const MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint`;

type Queryable = Pick<PoolClient, "query">;

/** A job with its request, as the runner works on it. */
export interface Job {
  tenant: string;
  requestId: string;
  model: string;
  /** The version the request was opened for (the champion when it fired). */
  version: string;
  status: string;
  policy: string;
  evidence: Record<string, unknown>;
  requestedAtMs: number;
  state: JobState;
  attempts: number;
  command: "rollback" | "approve" | null;
  candidateOnnx: Uint8Array | null;
  candidateManifest: Record<string, unknown> | null;
}

/** What each step fixed, so that a resumed step works on the same data (see the migration). */
export interface JobState {
  /** Epoch ms: rows scored or labelled after this are not in the training set. */
  cutoffMs?: number;
  /** Epoch ms the training window opens at (null: the newest rows, whatever their age). */
  sinceMs?: number | null;
  algorithm?: string;
  candidateVersion?: string;
  candidateSha256?: string;
  /** The champion the candidate was gated against, and that it serves next to. */
  championVersion?: string;
  challengerSinceMs?: number;
  share?: number;
  /** Running minimum of the online test's p-values (always valid). */
  pValue?: number;
  /** The candidate was trained elsewhere and uploaded naming the request. */
  external?: boolean;
  /** The online decision waiting for approval in manual mode. */
  pendingDecision?: { kind: "promote" | "roll-back"; reason: string };
  lastLook?: Record<string, unknown>;
}

export interface Transition {
  tenant: string;
  requestId: string;
  from: string;
  to: RetrainingStatus;
  reason: string;
  evidence: Record<string, unknown>;
  state?: Partial<JobState>;
  /** Epoch ms the job is due again; omitted with `done`. */
  nextRunAtMs?: number;
  done?: boolean;
  candidate?: { onnx: Uint8Array; manifest: Record<string, unknown> };
  alert?: RetrainingAlert;
}

export interface AutomationSettings {
  paused: boolean;
  approval: "auto" | "manual";
}

export interface ArmOutcome {
  version: string;
  n: number;
  mean: number;
  variance: number;
  positives: number;
}

const JOB_COLUMNS = `j.tenant_id, j.request_id, r.model_name, r.version, r.status, r.policy,
  r.evidence, ${MS("r.requested_at")} AS requested_at_ms, j.state, j.attempts, j.command,
  j.candidate_onnx, j.candidate_manifest`;

interface JobRow {
  tenant_id: string;
  request_id: string;
  model_name: string;
  version: string;
  status: string;
  policy: string;
  evidence: Record<string, unknown>;
  requested_at_ms: string;
  state: JobState;
  attempts: number;
  command: "rollback" | "approve" | null;
  candidate_onnx: Uint8Array | null;
  candidate_manifest: Record<string, unknown> | null;
}

function toJob(r: JobRow): Job {
  return {
    tenant: r.tenant_id,
    requestId: r.request_id,
    model: r.model_name,
    version: r.version,
    status: r.status,
    policy: r.policy,
    evidence: r.evidence,
    requestedAtMs: Number(r.requested_at_ms),
    state: r.state,
    attempts: r.attempts,
    command: r.command,
    candidateOnnx: r.candidate_onnx === null ? null : new Uint8Array(r.candidate_onnx),
    candidateManifest: r.candidate_manifest,
  };
}

export interface ConsumedRequest {
  tenant: string;
  requestId: string;
  model: string;
  version: string;
  policy: string;
  evidence: Record<string, unknown>;
  requestedAtMs: number;
}

export class RetrainingStore {
  constructor(private readonly pool: Pool) {}

  /**
   * In the consumer's batch transaction: stores requests not stored yet (the stream processor
   * stores its own before publishing; others may publish too) and opens one job per request.
   * A redelivered request finds its job and opens nothing. Returns how many jobs opened.
   */
  async openJobs(tx: Queryable, requests: readonly ConsumedRequest[]): Promise<number> {
    if (requests.length === 0) return 0;
    const cols = [
      requests.map((r) => r.tenant),
      requests.map((r) => r.requestId),
      requests.map((r) => r.model),
      requests.map((r) => r.version),
      requests.map((r) => r.policy),
      requests.map((r) => JSON.stringify(r.evidence)),
      requests.map((r) => String(Math.round(r.requestedAtMs))),
    ];
    await tx.query(
      `INSERT INTO retrain_requests (tenant_id, request_id, model_name, version, policy, evidence,
         requested_at, published_at)
       SELECT t, r, m, v, p, e::jsonb, ${TS("ms")}, now()
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
         $7::bigint[]) AS d(t, r, m, v, p, e, ms)
       ON CONFLICT (tenant_id, request_id) DO NOTHING`,
      cols,
    );
    const opened = await tx.query(
      `INSERT INTO retraining_jobs (tenant_id, request_id, model_name)
       SELECT t, r, m FROM unnest($1::text[], $2::text[], $3::text[]) AS d(t, r, m)
       ON CONFLICT (tenant_id, request_id) DO NOTHING`,
      cols.slice(0, 3),
    );
    return opened.rowCount ?? 0;
  }

  /**
   * Takes the most overdue job no live worker holds, for `leaseMs`. A worker killed mid-step
   * leaves its lease to run out; the next worker takes the job up at the same status.
   */
  async claimDueJob(workerId: string, leaseMs: number, nowMs: number): Promise<Job | undefined> {
    const { rows } = await this.pool.query<JobRow>(
      `WITH due AS (
         SELECT tenant_id, request_id FROM retraining_jobs
         WHERE done_at IS NULL AND next_run_at <= ${TS("$1")}
           AND (lease_until IS NULL OR lease_until < ${TS("$1")})
         ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE retraining_jobs j
         SET lease_until = ${TS("$1")} + $2::bigint * interval '1 millisecond', leased_by = $3,
             updated_at = now()
         FROM due WHERE j.tenant_id = due.tenant_id AND j.request_id = due.request_id
         RETURNING j.*
       )
       SELECT ${JOB_COLUMNS} FROM claimed j
       JOIN retrain_requests r ON r.tenant_id = j.tenant_id AND r.request_id = j.request_id`,
      [String(nowMs), String(leaseMs), workerId],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  async getJob(tenant: string, requestId: string): Promise<Job | undefined> {
    const { rows } = await this.pool.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM retraining_jobs j
       JOIN retrain_requests r ON r.tenant_id = j.tenant_id AND r.request_id = j.request_id
       WHERE j.tenant_id = $1 AND j.request_id = $2`,
      [tenant, requestId],
    );
    return rows[0] === undefined ? undefined : toJob(rows[0]);
  }

  /**
   * Moves the request from `from` to `to` with its reason and evidence, updates the job and
   * stores the step's alert with its deliveries, all in one transaction. False (nothing
   * written) when the request is no longer in `from` (an operator cancelled it meanwhile).
   */
  async transition(t: Transition, operatorSinks: readonly string[]): Promise<boolean> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const moved = await client.query(
        `UPDATE retrain_requests SET status = $3, status_reason = $4, status_evidence = $5::jsonb,
           updated_at = now()
         WHERE tenant_id = $1 AND request_id = $2 AND status = $6`,
        [t.tenant, t.requestId, t.to, t.reason, JSON.stringify(t.evidence), t.from],
      );
      if ((moved.rowCount ?? 0) === 0) {
        await client.query("ROLLBACK");
        return false;
      }
      await client.query(
        `UPDATE retraining_jobs SET state = state || $3::jsonb, attempts = 0, last_error = NULL,
           lease_until = NULL, leased_by = NULL, command = NULL,
           next_run_at = COALESCE(${TS("$4")}, next_run_at),
           done_at = CASE WHEN $5 THEN now() END,
           candidate_onnx = COALESCE($6::bytea, candidate_onnx),
           candidate_manifest = COALESCE($7::jsonb, candidate_manifest), updated_at = now()
         WHERE tenant_id = $1 AND request_id = $2`,
        [
          t.tenant,
          t.requestId,
          JSON.stringify(t.state ?? {}),
          t.nextRunAtMs === undefined ? null : String(Math.round(t.nextRunAtMs)),
          t.done === true,
          t.candidate === undefined ? null : Buffer.from(t.candidate.onnx),
          t.candidate === undefined ? null : JSON.stringify(t.candidate.manifest),
        ],
      );
      if (t.alert !== undefined) await insertAlert(client, t.alert, operatorSinks);
      await client.query("COMMIT");
      return true;
    } catch (error) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      }
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Keeps the job at its status, due again at `nextRunAtMs`; an error counts as a failed attempt. */
  async reschedule(
    tenant: string,
    requestId: string,
    nextRunAtMs: number,
    state: Partial<JobState>,
    error?: string,
    alert?: RetrainingAlert,
    operatorSinks: readonly string[] = [],
  ): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(
        `UPDATE retraining_jobs SET state = state || $3::jsonb, next_run_at = ${TS("$4")},
           lease_until = NULL, leased_by = NULL, updated_at = now(),
           attempts = attempts + CASE WHEN $5::text IS NULL THEN 0 ELSE 1 END,
           last_error = COALESCE($5::text, last_error)
         WHERE tenant_id = $1 AND request_id = $2`,
        [tenant, requestId, JSON.stringify(state), String(Math.round(nextRunAtMs)), error ?? null],
      );
      if (alert !== undefined) await insertAlert(client, alert, operatorSinks);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  /**
   * Requests waiting for an external trainer whose model now has a version uploaded naming them
   * (`training.retrainingRequestId` in its manifest), with that version.
   */
  async externalUploads(limit: number): Promise<
    {
      tenant: string;
      requestId: string;
      model: string;
      version: string;
      candidateVersion: string;
    }[]
  > {
    const { rows } = await this.pool.query<{
      tenant_id: string;
      request_id: string;
      model_name: string;
      version: string;
      candidate: string;
    }>(
      `SELECT r.tenant_id, r.request_id, r.model_name, r.version, v.version AS candidate
       FROM retrain_requests r
       JOIN retraining_jobs j ON j.tenant_id = r.tenant_id AND j.request_id = r.request_id
       JOIN model_versions v ON v.tenant_id = r.tenant_id AND v.model_name = r.model_name
         AND v.manifest->'training'->>'retrainingRequestId' = r.request_id
       WHERE r.status = 'needs-external-trainer'
       ORDER BY v.created_at LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      tenant: r.tenant_id,
      requestId: r.request_id,
      model: r.model_name,
      version: r.version,
      candidateVersion: r.candidate,
    }));
  }

  /** Marks a job whose request reached a final status elsewhere (e.g. cancelled) as done. */
  async finishJob(tenant: string, requestId: string): Promise<void> {
    await this.pool.query(
      `UPDATE retraining_jobs SET done_at = now(), lease_until = NULL, leased_by = NULL,
         updated_at = now() WHERE tenant_id = $1 AND request_id = $2`,
      [tenant, requestId],
    );
  }

  async settings(tenant: string, model: string): Promise<AutomationSettings> {
    const { rows } = await this.pool.query<AutomationSettings>(
      `SELECT paused, approval FROM retraining_settings
       WHERE tenant_id = $1 AND model_name IN ($2, '*')
       ORDER BY (model_name = '*') LIMIT 1`,
      [tenant, model],
    );
    return rows[0] ?? { paused: false, approval: "auto" };
  }

  async putSettings(
    tenant: string,
    model: string,
    patch: Partial<AutomationSettings>,
  ): Promise<AutomationSettings> {
    const { rows } = await this.pool.query<AutomationSettings>(
      `INSERT INTO retraining_settings (tenant_id, model_name, paused, approval)
       VALUES ($1, $2, COALESCE($3, false), COALESCE($4, 'auto'))
       ON CONFLICT (tenant_id, model_name) DO UPDATE
         SET paused = COALESCE($3, retraining_settings.paused),
             approval = COALESCE($4, retraining_settings.approval), updated_at = now()
       RETURNING paused, approval`,
      [tenant, model, patch.paused ?? null, patch.approval ?? null],
    );
    if (patch.paused === false) {
      // Requests held while paused go on now rather than at their next look.
      await this.pool.query(
        `UPDATE retraining_jobs SET next_run_at = now()
         WHERE tenant_id = $1 AND done_at IS NULL AND ($2 = '*' OR model_name = $2)`,
        [tenant, model],
      );
    }
    return rows[0]!;
  }

  /** Queues an operator's command for the job and makes it due now. */
  async command(
    tenant: string,
    requestId: string,
    command: "rollback" | "approve",
  ): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `UPDATE retraining_jobs SET command = $3, next_run_at = now(), updated_at = now()
       WHERE tenant_id = $1 AND request_id = $2 AND done_at IS NULL`,
      [tenant, requestId, command],
    );
    return (rowCount ?? 0) > 0;
  }

  /** The registered manifest of a model version; undefined when the tenant has no such version. */
  async manifestOf(
    tenant: string,
    model: string,
    version: string,
  ): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.pool.query<{ manifest: Record<string, unknown> }>(
      `SELECT manifest FROM model_versions
       WHERE tenant_id = $1 AND model_name = $2 AND version = $3`,
      [tenant, model, version],
    );
    return rows[0]?.manifest;
  }

  /** The registered versions of a model (to pick the candidate's version). */
  async versionsOf(tenant: string, model: string): Promise<string[]> {
    const { rows } = await this.pool.query<{ version: string }>(
      "SELECT version FROM model_versions WHERE tenant_id = $1 AND model_name = $2",
      [tenant, model],
    );
    return rows.map((r) => r.version);
  }

  /**
   * Epoch ms at which the drift behind the request began: the start of the first drifted
   * sliding window after the version's last evaluation without drift. Null when the request
   * did not follow drift (a performance policy) or nothing is recorded.
   */
  async driftStartMs(
    tenant: string,
    model: string,
    version: string,
    beforeMs: number,
  ): Promise<number | null> {
    const { rows } = await this.pool.query<{ ms: string | null }>(
      `WITH evaluations AS (
         SELECT evaluation_id, max(evaluated_at) AS at, min(window_start) AS start,
                bool_or(is_drift) AS drifted
         FROM drift_results
         WHERE tenant_id = $1 AND model_name = $2 AND version = $3 AND window_kind = 'sliding'
           AND evaluation_id IS NOT NULL AND evaluated_at <= ${TS("$4")}
         GROUP BY evaluation_id
       ), last_stable AS (SELECT max(at) AS at FROM evaluations WHERE NOT drifted)
       SELECT ${MS("min(e.start)")} AS ms FROM evaluations e, last_stable s
       WHERE e.drifted AND (s.at IS NULL OR e.at > s.at)`,
      [tenant, model, version, String(beforeMs)],
    );
    const v = rows[0]?.ms;
    return v === null || v === undefined ? null : Number(v);
  }

  /**
   * The model's settled predictions (labelled by a conversion, or past their attribution window
   * unconverted), newest first, at most `maxRows`, none scored or labelled after `cutoffMs`.
   */
  async settledRows(
    tenant: string,
    model: string,
    cutoffMs: number,
    maxRows: number,
  ): Promise<SettledRow[]> {
    const { rows } = await this.pool.query<{
      features: Record<string, unknown>;
      label: boolean;
      at: string;
      version: string;
      score: number;
    }>(
      `SELECT features, label, ${MS("predicted_at")} AS at, version, score FROM predictions
       WHERE tenant_id = $1 AND model_name = $2 AND label IS NOT NULL
         AND predicted_at <= ${TS("$3")} AND labelled_at <= ${TS("$3")}
       ORDER BY predicted_at DESC LIMIT $4`,
      [tenant, model, String(cutoffMs), maxRows],
    );
    return rows.map((r) => ({
      features: r.features,
      label: r.label,
      predictedAtMs: Number(r.at),
      version: r.version,
      score: r.score,
    }));
  }

  /**
   * Per-row log loss of each version's settled predictions scored since `sinceMs`: count, mean
   * and population variance. Scores are clipped to [1e-15, 1 − 1e-15] like scikit-learn.
   */
  async armOutcomes(
    tenant: string,
    model: string,
    versions: readonly string[],
    sinceMs: number,
  ): Promise<ArmOutcome[]> {
    const { rows } = await this.pool.query<{
      version: string;
      n: string;
      mean: number | null;
      variance: number | null;
      positives: string;
    }>(
      `SELECT version, count(*) AS n, avg(ll) AS mean, var_pop(ll) AS variance,
              count(*) FILTER (WHERE label) AS positives
       FROM (
         SELECT version, label,
           -ln(CASE WHEN label THEN greatest(least(score, 1 - 1e-15), 1e-15)
                    ELSE greatest(least(1 - score, 1 - 1e-15), 1e-15) END) AS ll
         FROM predictions
         WHERE tenant_id = $1 AND model_name = $2 AND version = ANY($3::text[])
           AND label IS NOT NULL AND predicted_at >= ${TS("$4")}
       ) o GROUP BY version`,
      [tenant, model, [...versions], String(sinceMs)],
    );
    return versions.map((version) => {
      const r = rows.find((row) => row.version === version);
      return {
        version,
        n: r === undefined ? 0 : Number(r.n),
        mean: r?.mean ?? 0,
        variance: r?.variance ?? 0,
        positives: r === undefined ? 0 : Number(r.positives),
      };
    });
  }

  /** The tenant's requests with their job, newest first (the ops API's listing). */
  async listJobs(tenant: string, limit: number): Promise<Record<string, unknown>[]> {
    const { rows } = await this.pool.query(
      `SELECT r.request_id AS id, r.model_name AS model, r.version, r.status,
              r.status_reason AS reason, r.requested_at AS "requestedAt", j.state, j.attempts,
              j.last_error AS "lastError", j.command
       FROM retrain_requests r
       LEFT JOIN retraining_jobs j ON j.tenant_id = r.tenant_id AND j.request_id = r.request_id
       WHERE r.tenant_id = $1 ORDER BY r.requested_at DESC LIMIT $2`,
      [tenant, limit],
    );
    return rows;
  }

  /** Whether Postgres answers (the ops API's /ready). */
  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }
}

/**
 * Stores a retraining alert once (its id is derived from the request and step) and queues its
 * deliveries in the stream processor's outbox — Kafka `alerts` and the tenant's subscribed
 * webhook endpoints — which the processor's publisher sends after this commits.
 */
async function insertAlert(
  db: Queryable,
  alert: RetrainingAlert,
  operatorSinks: readonly string[],
): Promise<void> {
  const stored = await db.query(
    `INSERT INTO alerts (tenant_id, alert_id, type, model_name, version, cloud_event)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (tenant_id, alert_id) DO NOTHING`,
    [
      alert.tenant,
      alert.alertId,
      alert.type,
      alert.model,
      alert.version,
      JSON.stringify(alert.cloudEvent),
    ],
  );
  if ((stored.rowCount ?? 0) === 0) return;
  const { rows } = await db.query<{
    endpoint_id: string;
    tenant_id: string;
    types: string[] | null;
  }>(
    `SELECT endpoint_id::text AS endpoint_id, tenant_id, types FROM webhook_endpoints
     WHERE tenant_id = $1 AND disabled_at IS NULL ORDER BY created_at, endpoint_id`,
    [alert.tenant],
  );
  const subscriptions: WebhookSubscription[] = rows.map((r) => ({
    endpointId: r.endpoint_id,
    tenant: r.tenant_id,
    types: r.types ?? [],
  }));
  const targets = [
    "",
    ...planAlertDeliveries([alert], subscriptions, operatorSinks).map((d) => d.target),
  ];
  await db.query(
    `INSERT INTO monitoring_outbox (tenant_id, channel, ref_id, target, message_key, payload)
     SELECT $1, CASE WHEN g = '' THEN 'alerts' ELSE 'webhook' END, $2, g, $3, $4::jsonb
     FROM unnest($5::text[]) AS d(g)
     ON CONFLICT (channel, ref_id, target) DO NOTHING`,
    [
      alert.tenant,
      alert.alertId,
      `${alert.tenant}:${alert.model}:${alert.version}`,
      JSON.stringify(alert.cloudEvent),
      targets,
    ],
  );
}
