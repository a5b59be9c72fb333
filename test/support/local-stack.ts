/** The local stack as tests reach it: the Worker under test, the Upstash REST server, API keys made as `keys:create` makes them. */
import type { Role } from "#core/api-keys";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";

const stack = loadLocalStackConfig();

/** The Worker under test (`npm test` starts it and sets WORKER_URL). */
export const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;

/** The local stack's Upstash REST server, as `npm test` names it (else the stack's defaults). */
export const LOCAL_UPSTASH = {
  url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
  token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
};

/** A fresh API key in the local stack's Upstash, as `keys:create` makes one. */
export async function newKey(
  tenant: string,
  roles: Role[],
  origins: string[] = [],
): Promise<string> {
  const { key } = await createApiKey({ tenant, roles, origins, redis: LOCAL_UPSTASH });
  return key;
}
