/** Ports, paths and versions of the local stack: read from the environment once, with defaults. */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { parseEnv, envPort as port } from "#core/config";

const LocalStackEnv = z.object({
  DRIFTLINE_STATE_DIR: z.string().default(resolve(import.meta.dirname, "../../.driftline")),
  DRIFTLINE_CACHE_DIR: z.string().default(join(homedir(), ".cache", "driftline")),
  KAFKA_VERSION: z.string().default("3.9.1"),
  KAFKA_PORT: port(19092),
  KAFKA_CONTROLLER_PORT: port(19093),
  KAFKA_HEAP: z.string().default("-Xms128m -Xmx512m"),
  KAFKA_TOPIC_PREFIX: z.string().default(""),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).default(3),
  KAFKA_REST_PORT: port(8082),
  REDIS_URL: z.string().default("redis://127.0.0.1:6379"),
  UPSTASH_REST_PORT: port(8079),
  UPSTASH_REDIS_REST_TOKEN: z.string().default("driftline-local-token"),
  DATABASE_URL: z.string().optional(),
  PGLITE_PORT: port(5499),
  NEON_WS_RELAY_PORT: port(5488),
  WORKER_PORT: port(8787),
  STREAM_API_PORT: port(8788),
  GRAPH_API_TEST_PORT: port(8790),
});

export type LocalStackConfig = z.infer<typeof LocalStackEnv>;

export function loadLocalStackConfig(env: NodeJS.ProcessEnv = process.env): LocalStackConfig {
  return parseEnv(LocalStackEnv, env, { heading: "Invalid local stack environment:" });
}
