/** Rows, Redis keys and R2 objects of one tenant, as the platform would leave them, for the privacy tests. */
import { randomUUID } from "node:crypto";
import type { Redis } from "@upstash/redis";
import type pg from "pg";
import type { OperatorBucket } from "../../scripts/privacy-stores";

const hex64 = () => (randomUUID() + randomUUID()).replaceAll("-", "").slice(0, 64);

export interface SeededTenant {
  tenant: string;
  keyId: string;
  keyHash: string;
  redisKeys: string[];
  modelObjects: string[];
}

/**
 * One or more rows in most tenant tables (the minute totals and the retraining history come from
 * their triggers), an audit entry, the Redis keys the Worker writes and a model in R2.
 */
export async function seedTenant(
  db: pg.Pool | pg.Client,
  redis: Redis,
  models: OperatorBucket,
  tenant: string,
): Promise<SeededTenant> {
  const keyId = `key_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const keyHash = hex64();
  const endpoint = randomUUID();
  const destination = randomUUID();
  const q = (text: string, values: unknown[] = []) => db.query(text, [tenant, ...values]);
  await q("INSERT INTO tenants (tenant_id) VALUES ($1)");
  await q(
    "INSERT INTO api_keys (tenant_id, key_id, key_hash, roles) VALUES ($1, $2, $3, '{admin}')",
    [keyId, keyHash],
  );
  await q(
    "INSERT INTO model_versions (tenant_id, model_name, version, manifest) VALUES ($1, 'conversion', '1', '{}')",
  );
  await q(
    "INSERT INTO model_pointers (tenant_id, model_name, champion, promoted_at) VALUES ($1, 'conversion', '1', now())",
  );
  for (const minute of [0, 1]) {
    await q(
      `INSERT INTO metric_windows (tenant_id, window_seconds, window_start, source, event_name, campaign, event_count)
       VALUES ($1, 60, '2026-11-01T00:00:00Z'::timestamptz + $2 * interval '1 minute', 'capi', 'Purchase', '', 3)`,
      [minute],
    );
    await q(
      `INSERT INTO metric_window_values (tenant_id, window_seconds, window_start, source, event_name, campaign, currency, value_sum, value_count)
       VALUES ($1, 60, '2026-11-01T00:00:00Z'::timestamptz + $2 * interval '1 minute', 'capi', 'Purchase', '', 'EUR', 42, 1)`,
      [minute],
    );
  }
  await q(
    "INSERT INTO predictions (tenant_id, prediction_id, model_name, version, entity_id, click_id, score, predicted_at) VALUES ($1, 'p-1', 'conversion', '1', $2, 'fb.1', 0.4, now())",
    [hex64()],
  );
  await q(
    "INSERT INTO conversion_keys (tenant_id, key_kind, key, event_name, event_id, event_time) VALUES ($1, 'prediction', 'p-1', 'Purchase', 'o-1', now())",
  );
  await q(
    "INSERT INTO click_id_predictions (tenant_id, prediction_id, click_id) VALUES ($1, 'p-1', 'fb.1')",
  );
  await q(
    "INSERT INTO alerts (tenant_id, alert_id, type, cloud_event) VALUES ($1, 'a-1', 'drift', '{}')",
  );
  await q(
    "INSERT INTO webhook_endpoints (tenant_id, endpoint_id, url, secret_sealed) VALUES ($1, $2, 'https://hooks.example/x', 'v1.sealed')",
    [endpoint],
  );
  await q(
    `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_id, event_type, attempt, succeeded, duration_ms)
     VALUES ($1, $2, 'a-1', 'drift', 1, true, 12)`,
    [endpoint],
  );
  await q(
    `INSERT INTO destinations (tenant_id, destination_id, kind, name, settings, secret_sealed, token_hint)
     VALUES ($1, $2, 'meta', 'Meta', '{}', 'v1.sealed', 'abcd')`,
    [destination],
  );
  await q(
    `INSERT INTO retrain_requests (tenant_id, request_id, model_name, version, policy, evidence)
     VALUES ($1, 'r-1', 'conversion', '1', 'psi', '{}')`,
  );
  await q(
    "INSERT INTO retraining_jobs (tenant_id, request_id, model_name) VALUES ($1, 'r-1', 'conversion')",
  );
  await q("INSERT INTO event_time_watermarks (tenant_id, max_event_time) VALUES ($1, now())");
  await q(
    `INSERT INTO audit_log (tenant_id, actor_kind, actor_id, request_id, action, target)
     VALUES ($1, 'operator', 'seed', 'cli-seed', 'api-key.create', 'api-key:' || $2)`,
    [keyId],
  );

  const record = {
    tenant,
    roles: ["admin"],
    keyId,
    createdAt: new Date().toISOString(),
    keyHash,
  };
  const redisKeys = [
    `key:${keyHash}`,
    `tenant:${tenant}:keys`,
    `tenant:${tenant}:origins`,
    `tenant:${tenant}:forwarding`,
    `model:${tenant}:conversion:active`,
    `rejected:${tenant}:capi:1700000000000`,
    `ratelimit:key:${keyId}:1700000`,
    `ratelimit:events:${keyId}:1700000`,
  ];
  await redis.set(`key:${keyHash}`, record);
  await redis.hset(`tenant:${tenant}:keys`, {
    [keyId]: { keyHash, roles: ["admin"], createdAt: record.createdAt },
  });
  await redis.sadd(`tenant:${tenant}:origins`, "https://shop.example");
  await redis.set(`tenant:${tenant}:forwarding`, 1);
  await redis.set(`model:${tenant}:conversion:active`, { champion: "1" });
  await redis.set(`rejected:${tenant}:capi:1700000000000`, 2);
  await redis.set(`ratelimit:key:${keyId}:1700000`, 5);
  await redis.set(`ratelimit:events:${keyId}:1700000`, 50);

  const modelObjects = [
    `tenants/${tenant}/models/conversion/1/manifest.json`,
    `tenants/${tenant}/models/conversion/1/model.onnx`,
  ];
  for (const key of modelObjects) {
    await models.put(key, "{}", {
      httpMetadata: { contentType: "application/octet-stream" },
      customMetadata: {},
    });
  }
  return { tenant, keyId, keyHash, redisKeys, modelObjects };
}
