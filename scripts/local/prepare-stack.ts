/** Decides, once per `npm start`, where the local stack keeps its state, and records it in the state dir. */
import {
  type LocalStackConfig,
  loadLocalStackConfig,
  renewLocalUpstashToken,
  type StackChoices,
  writeStackChoices,
} from "./config";
import { machineDatabaseUrl } from "./machine-postgres";
import { runningPid } from "./process";
import { claimRedisDatabase } from "./redis-namespace";

const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

/**
 * The database (DATABASE_URL, else the machine's PostgreSQL when it answers, else PGlite), this
 * state dir's Redis database, and a new Upstash REST token unless a server of this state dir
 * still runs. Written to `<state>/stack.json`; returns the config every part then uses.
 */
export async function prepareLocalStack(
  env: NodeJS.ProcessEnv = process.env,
): Promise<LocalStackConfig> {
  const initial = loadLocalStackConfig({ ...env });
  const stateDir = initial.DRIFTLINE_STATE_DIR;
  const choices: StackChoices = {};
  if (env.DATABASE_URL === undefined) {
    const url = await machineDatabaseUrl(initial.MACHINE_POSTGRES_URL, stateDir);
    if (url !== undefined) choices.DATABASE_URL = url;
  }
  choices.REDIS_URL = await claimRedisDatabase(env.REDIS_URL ?? DEFAULT_REDIS_URL, stateDir);
  writeStackChoices(stateDir, choices);
  if (
    env.UPSTASH_REDIS_REST_TOKEN === undefined &&
    runningPid(stateDir, "upstash-rest") === undefined
  ) {
    renewLocalUpstashToken(stateDir);
  }
  return loadLocalStackConfig(env);
}
