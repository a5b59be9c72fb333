/**
 * The delivery service's settings (stream-processor/delivery-main.ts): their environment fields,
 * spread into the processor's one schema (config.ts), and the config built from them.
 */
import { z } from "zod";
import { envInt } from "#core/config";
import { LOCAL_DESTINATION_ENCRYPTION_KEY } from "#core/destinations";

// Environment variables (default in brackets).
//
//   DESTINATION_ENCRYPTION_KEY        base64 of 32 bytes sealing destination tokens; the Worker's value [local key]
//   DELIVERY_CONSUMER_GROUP           the delivery service's consumer group [<STREAM_CONSUMER_GROUP>-delivery]
//   META_GRAPH_API_URL                Meta's Graph API base URL (the local test server in development)
//                                     [https://graph.facebook.com]
//   META_GRAPH_API_VERSION            Graph API version in the path [v21.0]
//   DELIVERY_TIMEOUT_MS               longest one request to a destination may take [15000]
//   DELIVERY_RETRY_INITIAL_MS         first wait after a transient destination error [500]
//   DELIVERY_RETRY_MAX_MS             longest wait between retries of a transient error [30000]
//   DELIVERY_DIRECTORY_TTL_MS         how long a tenant's destinations are cached [30000]
//   DELIVERY_PAUSE_AFTER_MS           how long a destination may keep failing transiently before
//                                     it is paused and its events parked [30000]
//   DELIVERY_PARKED_RETRY_MS          between two tries of paused destinations' parked events [5000]
//   DELIVERY_API_PORT                 the delivery service's HTTP port (/health, /ready, /metrics),
//                                     on STREAM_API_HOST; 0 = any [8791]

const int = envInt;

export const deliveryEnvShape = {
  DESTINATION_ENCRYPTION_KEY: z.string().min(1).default(LOCAL_DESTINATION_ENCRYPTION_KEY),
  DELIVERY_CONSUMER_GROUP: z.string().min(1).max(255).optional(),
  META_GRAPH_API_URL: z
    .string()
    .regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, "must be an http(s) URL")
    .default("https://graph.facebook.com"),
  META_GRAPH_API_VERSION: z
    .string()
    .regex(/^v\d+\.\d+$/, "must be a Graph API version like v21.0")
    .default("v21.0"),
  DELIVERY_TIMEOUT_MS: int(15_000, 100, 120_000),
  DELIVERY_RETRY_INITIAL_MS: int(500, 1),
  DELIVERY_RETRY_MAX_MS: int(30_000, 1),
  DELIVERY_DIRECTORY_TTL_MS: int(30_000, 0),
  DELIVERY_PAUSE_AFTER_MS: int(30_000, 0),
  DELIVERY_PARKED_RETRY_MS: int(5_000, 10),
  DELIVERY_API_PORT: int(8791, 0, 65_535),
};

type DeliveryEnv = z.infer<z.ZodObject<typeof deliveryEnvShape>>;

export interface DeliveryConfig {
  groupId: string;
  encryptionKey: string;
  metaGraphUrl: string;
  metaGraphVersion: string;
  timeoutMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  directoryTtlMs: number;
  pauseAfterMs: number;
  parkedRetryMs: number;
  apiPort: number;
}

/** The delivery config of parsed settings; its consumer group defaults to the processor's + "-delivery". */
export function deliveryConfigFrom(e: DeliveryEnv, streamConsumerGroup: string): DeliveryConfig {
  return {
    groupId: e.DELIVERY_CONSUMER_GROUP ?? `${streamConsumerGroup}-delivery`,
    encryptionKey: e.DESTINATION_ENCRYPTION_KEY,
    metaGraphUrl: e.META_GRAPH_API_URL.replace(/\/+$/, ""),
    metaGraphVersion: e.META_GRAPH_API_VERSION,
    timeoutMs: e.DELIVERY_TIMEOUT_MS,
    retryInitialMs: e.DELIVERY_RETRY_INITIAL_MS,
    retryMaxMs: e.DELIVERY_RETRY_MAX_MS,
    directoryTtlMs: e.DELIVERY_DIRECTORY_TTL_MS,
    pauseAfterMs: e.DELIVERY_PAUSE_AFTER_MS,
    parkedRetryMs: e.DELIVERY_PARKED_RETRY_MS,
    apiPort: e.DELIVERY_API_PORT,
  };
}
