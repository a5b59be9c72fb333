/** The whole local stack in start order, and the environment its clients need. */

import type { LocalStackConfig } from "./config";
import { deliveryService, graphApiTestServerService } from "./destinations";
import { kafkaBrokers, kafkaRestGatewayService, kafkaService } from "./kafka";
import { localDatabaseUrl, postgresService } from "./postgres";
import { retrainingWorkerService } from "./retraining-worker";
import type { LocalService } from "./service";
import { streamProcessorService } from "./stream-processor";
import { upstashRestService } from "./upstash-rest-service";
import { workerService } from "./worker";

export type StackPart = "redis" | "postgres" | "kafka" | "gateway" | "worker";

export const ALL_PARTS: readonly StackPart[] = ["redis", "postgres", "kafka", "gateway", "worker"];

/**
 * The services in stages: the services of one stage do not depend on each other and start
 * together; a stage starts once the one before it is ready (the gateway needs Kafka, the Worker
 * needs the gateway and the Upstash REST server).
 */
export function stackStages(
  config: LocalStackConfig,
  parts: readonly StackPart[] = ALL_PARTS,
): LocalService[][] {
  const builders: Record<StackPart, () => LocalService> = {
    redis: () => upstashRestService(config),
    postgres: () => postgresService(config),
    kafka: () => kafkaService(config),
    gateway: () => kafkaRestGatewayService(config),
    worker: () => workerService(config),
  };
  const stages: StackPart[][] = [["redis", "postgres", "kafka"], ["gateway"], ["worker"]];
  return stages
    .map((stage) => stage.filter((part) => parts.includes(part)).map((part) => builders[part]()))
    .filter((stage) => stage.length > 0);
}

/**
 * The long-running Driftline processes `npm start` runs and supervises once the services are up
 * and the migrations applied, in start order. A new one is one more entry here: a LocalService
 * built with `daemonService` (see stream-processor.ts), which gives it its pid and log files,
 * restarts with back-off and a line in `services:status`.
 */
export function platformProcesses(
  config: LocalStackConfig,
  env: Record<string, string>,
): LocalService[] {
  return [
    streamProcessorService(config, env),
    retrainingWorkerService(config, env),
    graphApiTestServerService(config),
    deliveryService(config, env),
  ];
}

/** Environment variables that point Driftline's processes and tests at the local stack. */
export function stackEnv(config: LocalStackConfig): Record<string, string> {
  return {
    KAFKA_BROKERS: kafkaBrokers(config).join(","),
    KAFKA_TOPIC_PREFIX: config.KAFKA_TOPIC_PREFIX,
    KAFKA_REST_URL: `http://127.0.0.1:${config.KAFKA_REST_PORT}`,
    UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${config.UPSTASH_REST_PORT}`,
    UPSTASH_REDIS_REST_TOKEN: config.UPSTASH_REDIS_REST_TOKEN,
    NEON_WS_RELAY_URL: `ws://127.0.0.1:${config.NEON_WS_RELAY_PORT}`,
    WORKER_URL: `http://127.0.0.1:${config.WORKER_PORT}`,
    DATABASE_URL: localDatabaseUrl(config),
  };
}
