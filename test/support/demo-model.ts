/** Seeds a tenant that monitors the demo model, as the registry stage would have registered it. */
import type pg from "pg";
import { demoManifest } from "../../stream-processor/monitoring/testing/conversion-stream";

/**
 * Inserts the tenant and the demo model's version conversion/1 as its champion, with the
 * manifest's reference frozen beside it (the registry path; the bundled copy is the fallback).
 */
export async function registerDemoModel(db: pg.Pool, tenant: string): Promise<void> {
  const manifest = demoManifest();
  await db.query("INSERT INTO tenants (tenant_id) VALUES ($1)", [tenant]);
  await db.query(
    `INSERT INTO model_versions (tenant_id, model_name, version, manifest, reference_bins, status)
     VALUES ($1, 'conversion', '1', $2, $3, 'champion')`,
    [tenant, JSON.stringify(manifest), JSON.stringify(manifest.reference)],
  );
}
