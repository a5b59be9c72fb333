/** Where `tenants:delete` and `erase` find Postgres and R2: the environment, else the local stack's. */
import { redactDatabaseUrl } from "#core/config";
import { ConfigError } from "#core/errors";
import { loadLocalStackConfig } from "./local/config";
import { localR2Path, type OperatorBucket, openLocalR2 } from "./local/local-r2";
import { postgresAnswers } from "./local/pglite-server";
import { localDatabaseUrl } from "./local/postgres";

export type { OperatorBucket };

/** The Worker's two buckets as the commands use them. */
export interface OperatorR2 {
  models: OperatorBucket;
  deadLetters: OperatorBucket;
  location: string;
  close(): Promise<void>;
}

/**
 * The local stack's R2 (Miniflare's persistence in the state dir). A deployment's R2 is not
 * reached from here: the commands say so in their report (docs/privacy.md).
 */
export async function openOperatorR2(env: NodeJS.ProcessEnv): Promise<OperatorR2> {
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
