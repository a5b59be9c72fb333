/** ModelRegistryTransaction on Postgres: model_versions and model_pointers, on the batch's own connection. */
import type {
  ModelPromoted,
  ModelRegistryRecord,
  ModelUploadedRecord,
} from "#core/model-registry-message";
import { isDataRefusal, sqlstateOf } from "../db/sqlstate";
import { type Queryable, type QueryTimer, type ScopedQuery, scopedQuery } from "../db/timed-query";
import type {
  ModelRegistryTransaction,
  OpenModelRegistry,
  RegistryApplyOutcome,
} from "./model-registry-store";

type Timer = QueryTimer;

/** Opens the registry on a batch transaction's connection. */
export function openNeonModelRegistry(timer: Timer = () => {}): OpenModelRegistry {
  return (tx) => new NeonModelRegistryTransaction(tx.sql, timer);
}

/**
 * Every statement filters by tenant. Each record runs inside a savepoint, so a record Postgres
 * refuses is undone alone and the rest of the batch still commits (the caller dead-letters it).
 */
export class NeonModelRegistryTransaction implements ModelRegistryTransaction {
  private readonly run: ScopedQuery;

  constructor(
    private readonly db: Queryable,
    timer: Timer = () => {},
  ) {
    this.run = scopedQuery(db, timer, "registry");
  }

  async apply(record: ModelRegistryRecord): Promise<RegistryApplyOutcome> {
    await this.db.query({ text: "SAVEPOINT driftline_registry" });
    let outcome: RegistryApplyOutcome;
    try {
      outcome =
        record.action === "uploaded"
          ? await this.upsertVersion(record)
          : await this.promote(record);
    } catch (error) {
      if (!isDataRefusal(error)) throw error;
      await this.db.query({ text: "ROLLBACK TO SAVEPOINT driftline_registry" });
      return {
        kind: "refused",
        reason: `Postgres refused it (${sqlstateOf(error)}): ${(error as Error).message}`,
      };
    }
    await this.db.query({ text: "RELEASE SAVEPOINT driftline_registry" });
    return outcome;
  }

  /** Tenants are registered on first sight: the edge has authenticated them. */
  private async ensureTenant(tenant: string): Promise<void> {
    await this.run(
      "ensure_tenant",
      "INSERT INTO tenants (tenant_id) VALUES ($1) ON CONFLICT DO NOTHING",
      [tenant],
    );
  }

  private async upsertVersion(record: ModelUploadedRecord): Promise<RegistryApplyOutcome> {
    await this.ensureTenant(record.tenant);
    // The reference is stored once, in reference_bins (which monitoring prefers), not again
    // inside the manifest. Versions are immutable: a repeat changes nothing. A different ONNX
    // hash for the same version only happens when the model store was reset and the version
    // uploaded anew; the newer upload wins then.
    const { reference, ...manifest } = record.manifest;
    const { rowCount } = await this.run(
      "upsert_version",
      `INSERT INTO model_versions AS mv (tenant_id, model_name, version, manifest, reference_bins,
         reference_trimmed, onnx_sha256, onnx_size_bytes, created_at)
       VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7, $8, $9::timestamptz)
       ON CONFLICT (tenant_id, model_name, version) DO UPDATE SET
         manifest = EXCLUDED.manifest,
         reference_bins = EXCLUDED.reference_bins,
         reference_trimmed = EXCLUDED.reference_trimmed,
         onnx_sha256 = EXCLUDED.onnx_sha256,
         onnx_size_bytes = EXCLUDED.onnx_size_bytes,
         created_at = EXCLUDED.created_at
       WHERE mv.onnx_sha256 IS DISTINCT FROM EXCLUDED.onnx_sha256`,
      [
        record.tenant,
        record.name,
        record.version,
        JSON.stringify(manifest),
        reference === undefined ? null : JSON.stringify(reference),
        record.trimmed === undefined ? null : JSON.stringify(record.trimmed),
        record.sha256,
        record.sizeBytes,
        record.uploadedAt,
      ],
    );
    if (rowCount === 0) return { kind: "unchanged" };
    await this.syncStatuses(record.tenant, record.name);
    return { kind: "applied" };
  }

  private async promote(record: ModelPromoted): Promise<RegistryApplyOutcome> {
    await this.ensureTenant(record.tenant);
    const { active } = record;
    const values = [
      record.tenant,
      record.name,
      active.champion,
      active.challenger?.version ?? null,
      active.challenger?.share ?? null,
      active.promotedAt,
    ];
    // Not older than the held pointer (ties: the later record wins, as in partition order); an
    // identical pointer is a repeat and writes nothing.
    const { rowCount } = await this.run(
      "upsert_pointer",
      `INSERT INTO model_pointers AS p (tenant_id, model_name, champion, challenger,
         challenger_share, promoted_at)
       VALUES ($1, $2, $3, $4, $5::double precision, $6::timestamptz)
       ON CONFLICT (tenant_id, model_name) DO UPDATE SET
         champion = EXCLUDED.champion,
         challenger = EXCLUDED.challenger,
         challenger_share = EXCLUDED.challenger_share,
         promoted_at = EXCLUDED.promoted_at,
         updated_at = now()
       WHERE p.promoted_at < EXCLUDED.promoted_at
          OR (p.promoted_at = EXCLUDED.promoted_at
              AND (p.champion, p.challenger, p.challenger_share)
                  IS DISTINCT FROM (EXCLUDED.champion, EXCLUDED.challenger, EXCLUDED.challenger_share))`,
      values,
    );
    if (rowCount === 0) {
      const { rows } = await this.run<{ promoted_at: string; newer: boolean }>(
        "held_pointer",
        `SELECT to_json(promoted_at) #>> '{}' AS promoted_at, promoted_at > $3::timestamptz AS newer
         FROM model_pointers WHERE tenant_id = $1 AND model_name = $2`,
        [record.tenant, record.name, active.promotedAt],
      );
      const held = rows[0];
      return held?.newer
        ? { kind: "stale", heldPromotedAt: held.promoted_at }
        : { kind: "unchanged" };
    }
    await this.syncStatuses(record.tenant, record.name);
    return { kind: "applied" };
  }

  /**
   * Makes the model's version statuses what its pointer says. Two statements, demotions first:
   * the unique indexes allow one champion and one challenger per model at every moment, so a
   * swap (champion ↔ challenger) must clear both before setting either.
   */
  private async syncStatuses(tenant: string, model: string): Promise<void> {
    await this.run(
      "demote_versions",
      `UPDATE model_versions mv SET status = 'candidate', challenger_share = NULL
       WHERE mv.tenant_id = $1 AND mv.model_name = $2
         AND mv.status IN ('champion', 'challenger')
         AND NOT EXISTS (
           SELECT 1 FROM model_pointers p
           WHERE p.tenant_id = mv.tenant_id AND p.model_name = mv.model_name
             AND ((mv.status = 'champion' AND mv.version = p.champion)
               OR (mv.status = 'challenger' AND mv.version = p.challenger
                   AND mv.challenger_share = p.challenger_share)))`,
      [tenant, model],
    );
    await this.run(
      "promote_versions",
      `UPDATE model_versions mv SET
         status = CASE WHEN mv.version = p.champion THEN 'champion' ELSE 'challenger' END,
         challenger_share = CASE WHEN mv.version = p.champion THEN NULL ELSE p.challenger_share END,
         promoted_at = p.promoted_at
       FROM model_pointers p
       WHERE p.tenant_id = $1 AND p.model_name = $2
         AND mv.tenant_id = p.tenant_id AND mv.model_name = p.model_name
         AND (mv.version = p.champion OR mv.version = p.challenger)
         AND (mv.status, mv.promoted_at) IS DISTINCT FROM
             (CASE WHEN mv.version = p.champion THEN 'champion' ELSE 'challenger' END, p.promoted_at)`,
      [tenant, model],
    );
  }
}
