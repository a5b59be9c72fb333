/**
 * `npm run keys:rotate -- --tenant <id> --key-id <id> [--grace 24h]`: issues a new key with the
 * old one's tenant, roles, origins and limit, and retires the old one after the grace period, in
 * Upstash Redis (the edge) and in Postgres `api_keys` when there is a database (the stream
 * processor's read API). Prints the new key once.
 */
import {
  ApiKeyRecordSchema,
  apiKeyRedisKey,
  DEFAULT_ROTATION_GRACE_SECONDS,
  MAX_ROTATION_GRACE_SECONDS,
  type RotatedApiKey,
  rotateApiKey,
  rotatedIndexEntries,
  rotationRefusal,
} from "#core/api-keys";
import { redactDatabaseUrl } from "#core/config";
import { ConflictError, type FieldIssue, NotFoundError } from "#core/errors";
import { IDENTIFIER_RULE } from "#core/scoring";
import {
  appendKeyAudit,
  environmentUsage,
  type KeyStoresConfig,
  readTenantCommandLine,
  runIfMain,
  TenantKeyEntrySchema,
  tenantIssues,
  tenantKeysRedisKey,
  throwIfIssues,
  withLocalStackDatabase,
  withPostgres,
  withUpstash,
} from "./keys-common";

export const USAGE = `Usage: npm run keys:rotate -- --tenant <id> --key-id <id> [--grace <duration>] [--json]

  --tenant   tenant id (${IDENTIFIER_RULE}); a key of another tenant is refused
  --key-id   the key to replace (key_…), as keys:create and keys:list print it
  --grace    how long the old key keeps working: 0, 90s, 30m, 24h, 7d (default 24h, at most 30d)
  --json     print { key, keyId, rotatedFrom, previousKeyExpiresAt } as JSON instead of the bare key

Issues a new key with the old key's roles, origins and request limit, and retires the old one when
the grace period ends: the edge refuses it from then on (its record expires in Redis), and so does
the stream processor's read API (revoked_at in Postgres api_keys is set to that time).
The same is available to admin keys as POST /v1/keys/{keyId}/rotate.

${environmentUsage("also rotate the key in Postgres api_keys")}`;

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3_600, d: 86_400 };

/** Seconds of a duration such as `0`, `90s`, `30m`, `24h`, `7d`; undefined when it is not one. */
export function parseGraceSeconds(text: string): number | undefined {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) return undefined;
  const seconds = Number(match[1]) * (DURATION_UNITS[match[2] ?? ""] ?? 1);
  return seconds <= MAX_ROTATION_GRACE_SECONDS ? seconds : undefined;
}

export interface RotateKeyOptions extends KeyStoresConfig {
  tenant: string;
  keyId: string;
  graceSeconds: number;
  now?: Date;
}

export function parseRotateArgs(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): RotateKeyOptions & { json: boolean } {
  const { values, tenant, issues, stores } = readTenantCommandLine(
    argv,
    {
      "key-id": { type: "string" },
      grace: { type: "string" },
      json: { type: "boolean", default: false },
    },
    USAGE,
    env,
  );
  const checked = checkRotateKeyInput(
    tenant,
    {
      ...(values["key-id"] === undefined ? {} : { keyId: values["key-id"] }),
      ...(values.grace === undefined ? {} : { grace: values.grace }),
    },
    issues,
  );
  throwIfIssues(checked.issues, USAGE);
  return { ...checked.options, json: values.json, ...stores };
}

/** What a command line gives for a rotation, before checking. */
export interface RotateKeyInput {
  keyId?: string;
  /** A duration such as 0, 90s, 30m, 24h, 7d; default 24h. */
  grace?: string;
}

/** Checks a rotation's key id and grace period: the options, or the issues naming each bad flag. */
export function checkRotateKeyInput(
  tenant: string,
  input: RotateKeyInput,
  issues: FieldIssue[] = tenantIssues(tenant),
): { options: Omit<RotateKeyOptions, keyof KeyStoresConfig>; issues: FieldIssue[] } {
  const keyId = input.keyId ?? "";
  if (!KEY_ID_PATTERN.test(keyId)) {
    issues.push({ field: "--key-id", message: "give the key's id (key_…), see keys:list" });
  }
  const grace =
    input.grace === undefined ? DEFAULT_ROTATION_GRACE_SECONDS : parseGraceSeconds(input.grace);
  if (grace === undefined) {
    issues.push({
      field: "--grace",
      message: `"${input.grace}" is not a duration of at most 30d, e.g. 0, 90s, 30m, 24h, 7d`,
    });
  }
  return { options: { tenant, keyId, graceSeconds: grace ?? 0 }, issues };
}

export interface RotateKeyResult extends RotatedApiKey {
  wroteTo: string[];
}

/** Rotates the key in Redis (MULTI/EXEC) and, when configured, in Postgres (one transaction). */
export async function rotateKey(options: RotateKeyOptions): Promise<RotateKeyResult> {
  const now = options.now ?? new Date();
  const wroteTo: string[] = [];
  const found = await withUpstash(options.redis, "read the key from", async (redis) => {
    const rawEntry = await redis.hget<unknown>(tenantKeysRedisKey(options.tenant), options.keyId);
    const entry = rawEntry === null ? undefined : TenantKeyEntrySchema.safeParse(rawEntry);
    if (entry === undefined || !entry.success) return undefined;
    const rawRecord = await redis.get<unknown>(apiKeyRedisKey(entry.data.keyHash));
    const parsed = rawRecord === null ? undefined : ApiKeyRecordSchema.safeParse(rawRecord);
    const record =
      parsed?.success && parsed.data.tenant === options.tenant ? parsed.data : undefined;
    return { entry: entry.data, record };
  });
  if (found === undefined) {
    throw new NotFoundError(
      `No key ${options.keyId} of tenant ${options.tenant} in Upstash Redis at ${options.redis.url}; check the id with npm run keys:list. Nothing was changed.`,
    );
  }
  const refusal = rotationRefusal(found.entry, found.record, now.getTime());
  if (refusal !== undefined || found.record === undefined) {
    throw new ConflictError(`Key ${options.keyId} ${refusal}. Nothing was changed.`);
  }
  const rotated = {
    rotated: await rotateApiKey(found.record, { graceSeconds: options.graceSeconds, now }),
    entry: found.entry,
  };

  // Postgres first, as keys:create does: a key that exists only in Postgres authenticates nothing at the edge.
  if (options.databaseUrl) {
    const { record, retiring } = rotated.rotated;
    await withPostgres(
      options.databaseUrl,
      "rotate the key in",
      async (client) => {
        const { rows } = await client.query<{ name: string | null }>(
          `UPDATE api_keys SET revoked_at = GREATEST($3::timestamptz, created_at)
           WHERE tenant_id = $1 AND key_id = $2 AND (revoked_at IS NULL OR revoked_at > $3::timestamptz)
           RETURNING name`,
          [options.tenant, retiring.keyId, retiring.expiresAt],
        );
        await client.query(
          `INSERT INTO api_keys (tenant_id, key_id, key_hash, roles, name, created_at)
           VALUES ($1, $2, $3, $4::text[], $5, $6)`,
          [
            record.tenant,
            record.keyId,
            record.keyHash,
            record.roles,
            rows[0]?.name ?? rotated.entry.name ?? null,
            record.createdAt,
          ],
        );
        await appendKeyAudit(client, {
          tenant: record.tenant,
          action: "api-key.rotate",
          target: `api-key:${retiring.keyId}`,
          before: { keyId: retiring.keyId, roles: retiring.roles },
          after: {
            keyId: retiring.keyId,
            expiresAt: retiring.expiresAt ?? null,
            replacedBy: record.keyId,
          },
        });
      },
      { transaction: true },
    );
    wroteTo.push(`Postgres ${redactDatabaseUrl(options.databaseUrl)}`);
  }

  await withUpstash(options.redis, "rotate the key in", async (redis) => {
    const { rotated: r, entry } = rotated;
    const { fresh, retiring } = rotatedIndexEntries(entry, r);
    const endMs = Date.parse(r.retiring.expiresAt ?? now.toISOString());
    const tx = redis.multi().set(apiKeyRedisKey(r.record.keyHash), r.record);
    if (endMs > now.getTime()) {
      tx.set(apiKeyRedisKey(r.retiring.keyHash), r.retiring, { pxat: endMs });
    } else {
      tx.del(apiKeyRedisKey(r.retiring.keyHash));
    }
    tx.hset(tenantKeysRedisKey(options.tenant), {
      [r.record.keyId]: fresh,
      [r.retiring.keyId]: retiring,
    });
    await tx.exec();
  });
  wroteTo.push(`Upstash Redis ${options.redis.url}`);
  return { ...rotated.rotated, wroteTo };
}

/**
 * Rotates the key and prints the new one (what `npm run keys:rotate` and `driftline keys rotate`
 * do): the new key alone on stdout, or JSON with `json`; the rest on stderr.
 */
export async function runRotateKey(parsed: RotateKeyOptions & { json: boolean }): Promise<void> {
  const options = await withLocalStackDatabase(
    parsed,
    "the key is rotated in Redis only (set DATABASE_URL to rotate it for the stream processor's read API too).",
  );
  const result = await rotateKey(options);
  const expiresAt = result.retiring.expiresAt ?? new Date().toISOString();
  if (options.json) {
    console.log(
      JSON.stringify({
        key: result.key,
        keyId: result.record.keyId,
        rotatedFrom: result.retiring.keyId,
        previousKeyExpiresAt: expiresAt,
      }),
    );
    return;
  }
  console.log(result.key);
  console.error(
    `Created ${result.record.keyId} in place of ${result.retiring.keyId} (tenant ${result.record.tenant}, role(s) ${result.record.roles.join(", ")}); ${result.retiring.keyId} works until ${expiresAt}.\nStored as a SHA-256 hash in ${result.wroteTo.join(" and ")}. The key is shown only now.`,
  );
}

async function main(): Promise<void> {
  await runRotateKey(parseRotateArgs(process.argv.slice(2)));
}

runIfMain(import.meta.url, main);
