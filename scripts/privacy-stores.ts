/** Where `tenants:delete` and `erase` find Postgres and R2: the environment, else the local stack's. */
import { z } from "zod";
import { redactDatabaseUrl } from "#core/config";
import { ConfigError } from "#core/errors";
import { loadLocalStackConfig } from "./local/config";
import { localR2Path, type OperatorBucket, openLocalR2 } from "./local/local-r2";
import { postgresAnswers } from "./local/pglite-server";
import { localDatabaseUrl } from "./local/postgres";
import { S3Bucket } from "./r2-s3-bucket";

export type { OperatorBucket };

/** The Worker's two buckets as the commands use them. */
export interface OperatorR2 {
  models: OperatorBucket;
  deadLetters: OperatorBucket;
  location: string;
  close(): Promise<void>;
}

/** A deployment's R2 over its S3 API: all three of endpoint, key id and secret, or none. */
const R2EnvSchema = z
  .object({
    R2_S3_ENDPOINT: z.url().optional(),
    R2_ACCESS_KEY_ID: z.string().min(1).optional(),
    R2_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    R2_MODELS_BUCKET: z.string().min(1).default("driftline-models"),
    R2_DEAD_LETTERS_BUCKET: z.string().min(1).default("driftline-dead-letters"),
  })
  .refine(
    (e) =>
      [e.R2_S3_ENDPOINT, e.R2_ACCESS_KEY_ID, e.R2_SECRET_ACCESS_KEY].every(
        (v) => v === undefined,
      ) ||
      [e.R2_S3_ENDPOINT, e.R2_ACCESS_KEY_ID, e.R2_SECRET_ACCESS_KEY].every((v) => v !== undefined),
    "set R2_S3_ENDPOINT, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY together (or none, for the local stack's R2)",
  );

/**
 * A deployment's buckets over R2's S3 API when R2_S3_ENDPOINT is set, else the local stack's R2
 * (Miniflare's persistence in the state dir).
 */
export async function openOperatorR2(env: NodeJS.ProcessEnv): Promise<OperatorR2> {
  const parsed = R2EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      `R2: ${parsed.error.issues.map((i) => `${i.path.join(".") || "environment"} ${i.message}`).join("; ")}. Nothing was changed.`,
    );
  }
  const e = parsed.data;
  if (e.R2_S3_ENDPOINT !== undefined) {
    const credentials = {
      endpoint: e.R2_S3_ENDPOINT,
      accessKeyId: e.R2_ACCESS_KEY_ID!,
      secretAccessKey: e.R2_SECRET_ACCESS_KEY!,
    };
    return {
      models: new S3Bucket({ ...credentials, bucket: e.R2_MODELS_BUCKET }),
      deadLetters: new S3Bucket({ ...credentials, bucket: e.R2_DEAD_LETTERS_BUCKET }),
      location: `${new URL(e.R2_S3_ENDPOINT).origin} (${e.R2_MODELS_BUCKET}, ${e.R2_DEAD_LETTERS_BUCKET})`,
      close: async () => undefined,
    };
  }
  return openLocalR2(localR2Path(loadLocalStackConfig(env).DRIFTLINE_STATE_DIR));
}

/** DATABASE_URL, else the local stack's database when it answers; else a ConfigError. */
export async function requireDatabaseUrl(databaseUrl: string | undefined): Promise<string> {
  if (databaseUrl !== undefined) return databaseUrl;
  const local = localDatabaseUrl(loadLocalStackConfig());
  if (await postgresAnswers(local)) return local;
  throw new ConfigError(
    `No database: set DATABASE_URL, or start the local stack (npm start); nothing answers at ${redactDatabaseUrl(local)}. Nothing was changed.`,
  );
}
