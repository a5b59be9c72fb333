/** The local stack as tests reach it: the Worker under test, the Upstash REST server, API keys made as `keys:create` makes them. */
import type { Role } from "#core/api-keys";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers } from "../../scripts/local/kafka";
import { TEST_DATABASE_URL } from "./integration-env";

const stack = loadLocalStackConfig();

/** The Worker under test (`npm test` starts it and sets WORKER_URL). */
export const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;

/** The local stack's Upstash REST server, as `npm test` names it (else the stack's defaults). */
export const LOCAL_UPSTASH = {
  url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
};

/** The database the Worker under test reads and writes (`npm test` sets DATABASE_URL). */
export const STACK_DATABASE_URL = process.env.DATABASE_URL ?? TEST_DATABASE_URL;

/**
 * The stream processor's environment on the stack's own topics and database, where the Worker
 * under test writes, under a consumer group of its own that starts at the topics' end (they hold
 * other tests' events); `overrides` are added last.
 */
export function stackProcessorEnv(
  consumerGroup: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: STACK_DATABASE_URL,
    NEON_WS_RELAY_URL:
      process.env.NEON_WS_RELAY_URL ?? `ws://127.0.0.1:${stack.NEON_WS_RELAY_PORT}`,
    KAFKA_BROKERS: kafkaBrokers(stack).join(","),
    KAFKA_TOPIC_PREFIX: process.env.KAFKA_TOPIC_PREFIX ?? stack.KAFKA_TOPIC_PREFIX,
    STREAM_CONSUMER_GROUP: consumerGroup,
    STREAM_FROM_BEGINNING: "false",
    STREAM_ENSURE_TOPICS: "true",
    STREAM_API_PORT: "0",
    STREAM_MAX_WAIT_MS: "100",
    ...overrides,
  };
}

/** A fresh API key in the local stack's Upstash, as `keys:create` makes one. */
export async function newKey(
  tenant: string,
  roles: Role[],
  origins: string[] = [],
): Promise<string> {
  const { key } = await createApiKey({ tenant, roles, origins, redis: LOCAL_UPSTASH });
  return key;
}
