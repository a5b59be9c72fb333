/**
 * Per state dir namespacing of the local stack's Redis keys: each state dir claims one of
 * Redis's numbered databases (a marker key names its owner), so two clones, or a clone and its
 * reset, never see each other's API keys, model pointers or dedup keys.
 */
import { Redis } from "ioredis";
import { ConfigError, DependencyUnavailableError } from "#core/errors";

/** Holds the state dir that owns a database. */
export const OWNER_KEY = "driftline:local-stack:state-dir";

function connect(url: string): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // Failures surface from connect() and the commands; the event would only be printed.
  redis.on("error", () => {});
  return redis;
}

/** The database number in a redis:// URL's path, if any. */
export function redisDatabaseOf(url: string): number | undefined {
  const path = new URL(url).pathname.replace(/^\//, "");
  return /^\d+$/.test(path) ? Number(path) : undefined;
}

export function withRedisDatabase(url: string, db: number): string {
  const parsed = new URL(url);
  parsed.pathname = `/${db}`;
  return parsed.toString();
}

/**
 * The Redis URL of this state dir's database: the one it claimed before, else the first empty
 * database (1 up; 0 is left to programs that do not namespace), claimed by writing OWNER_KEY.
 * A URL that names a database already is used as given.
 */
export async function claimRedisDatabase(redisUrl: string, stateDir: string): Promise<string> {
  if (redisDatabaseOf(redisUrl) !== undefined) return redisUrl;
  const redis = connect(redisUrl);
  try {
    await redis.connect();
  } catch (cause) {
    redis.disconnect();
    throw new DependencyUnavailableError(
      `Redis at ${redisUrl} does not answer. Start it (redis-server --daemonize yes) or set REDIS_URL.`,
      { cause },
    );
  }
  try {
    const databases = Number(((await redis.config("GET", "databases")) as string[])[1] ?? "1");
    let firstEmpty: number | undefined;
    for (let db = 1; db < databases; db++) {
      await redis.select(db);
      const owner = await redis.get(OWNER_KEY);
      if (owner === stateDir) return withRedisDatabase(redisUrl, db);
      if (firstEmpty === undefined && owner === null && (await redis.dbsize()) === 0) {
        firstEmpty = db;
      }
    }
    if (firstEmpty === undefined) {
      throw new ConfigError(
        `Every Redis database at ${redisUrl} (1-${databases - 1}) holds data of another state directory. ` +
          "Run `npm run reset` in a clone you no longer use, or set REDIS_URL to redis://host:port/<db>.",
      );
    }
    await redis.select(firstEmpty);
    // NX: of two stacks claiming at once, one wins; the other sees the owner and moves on.
    const claimed = await redis.set(OWNER_KEY, stateDir, "NX");
    if (claimed === null && (await redis.get(OWNER_KEY)) !== stateDir) {
      return claimRedisDatabase(redisUrl, stateDir);
    }
    return withRedisDatabase(redisUrl, firstEmpty);
  } finally {
    redis.disconnect();
  }
}

/** Empties this state dir's Redis database (only if this state dir owns it); true if it did. */
export async function flushRedisDatabase(redisUrl: string, stateDir: string): Promise<boolean> {
  if (redisDatabaseOf(redisUrl) === undefined) return false;
  const redis = connect(redisUrl);
  try {
    await redis.connect();
    if ((await redis.get(OWNER_KEY)) !== stateDir) return false;
    await redis.flushdb();
    return true;
  } finally {
    redis.disconnect();
  }
}
