/** Composition root of the retraining worker: builds the adapters from config, wires and runs them. */
import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolve } from "node:path";
import { serve } from "@hono/node-server";
import { Kafka, logLevel } from "kafkajs";
import { type Logger, pino } from "pino";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { isDriftlineError } from "#core/errors";
import { topicNames } from "#core/topics";
import { loadRetrainingConfig, type RetrainingConfig } from "./config";
import { createPool } from "./db/create-pool";
import { RetrainingStore } from "./db/retraining-store";
import { JobRunner } from "./jobs/job-runner";
import { RequestConsumer } from "./kafka/request-consumer";
import { createOpsApi } from "./ops/ops-api";
import {
  type ModelRegistryClient,
  WorkerModelRegistryClient,
} from "./rollout/model-registry-client";

export interface RetrainingWorker {
  /** `http://host:port` of the ops API (the real port when RETRAIN_API_PORT=0). */
  apiUrl: string;
  /** Looks for due jobs now. */
  wake(): void;
  /** Stops consuming, lets the step in hand finish, closes everything. Idempotent. */
  stop(): Promise<void>;
}

export function createLogger(level: RetrainingConfig["logLevel"]): Logger {
  return pino({
    level,
    base: { service: "driftline-retraining-worker", pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ["databaseUrl", "password", "*.password", "authorization", "*.authorization"],
      censor: "***",
    },
  });
}

export async function startRetrainingWorker(
  config: RetrainingConfig,
  options: { log?: Logger; registry?: ModelRegistryClient } = {},
): Promise<RetrainingWorker> {
  const log = options.log ?? createLogger(config.logLevel);
  const pool = createPool({
    databaseUrl: config.database.url,
    ...(config.database.schema === undefined ? {} : { schema: config.database.schema }),
    ...(config.database.wsRelayUrl === undefined ? {} : { wsRelayUrl: config.database.wsRelayUrl }),
  });
  const store = new RetrainingStore(pool);
  const registry =
    options.registry ?? new WorkerModelRegistryClient(config.worker.url, config.upstash);

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: "driftline_retraining_" });
  const steps = new Counter({
    name: "driftline_retraining_steps_total",
    help: "Retraining steps by the status they ran in (step) and what they led to (outcome).",
    labelNames: ["step", "outcome"],
    registers: [metrics],
  });
  const consumedJobs = new Counter({
    name: "driftline_retraining_requests_consumed_total",
    help: "Retraining requests consumed from Kafka that opened a job.",
    registers: [metrics],
  });

  const workerId = `retraining-${process.pid}-${randomUUID().slice(0, 8)}`;
  const runner = new JobRunner(
    {
      store,
      registry,
      config,
      log,
      nowMs: () => Date.now(),
      observe: ({ step, outcome }) => steps.inc({ step, outcome }),
    },
    workerId,
  );

  const names = topicNames(config.kafka.topicPrefix);
  let consumer: RequestConsumer | undefined;
  if (config.kafka.consume) {
    const kafka = new Kafka({
      clientId: "driftline-retraining-worker",
      brokers: config.kafka.brokers,
      logLevel: logLevel.WARN,
    });
    consumer = new RequestConsumer({
      kafka,
      pool,
      store,
      topic: names.retrainRequests,
      deadLetterTopic: names.dlq,
      groupId: config.kafka.groupId,
      sessionTimeoutMs: config.kafka.sessionTimeoutMs,
      heartbeatIntervalMs: config.kafka.heartbeatIntervalMs,
      log,
      onOpened: (count) => {
        consumedJobs.inc(count);
        runner.wake();
      },
    });
  }

  const api = createOpsApi({
    store,
    log,
    ...(config.api.opsToken === undefined ? {} : { opsToken: config.api.opsToken }),
    alertSource: config.alerts.source,
    operatorSinks: config.alerts.operatorSinks,
    wake: () => runner.wake(),
    prometheus: async () => ({ contentType: metrics.contentType, body: await metrics.metrics() }),
    readiness: async () => {
      const database = await Promise.race([
        store.ping().then(() => ({ ok: true })),
        new Promise<{ ok: boolean; message: string }>((r) =>
          setTimeout(() => r({ ok: false, message: "no answer within 2 s" }), 2_000).unref(),
        ),
      ]).catch((e: unknown) => ({
        ok: false,
        message: e instanceof Error ? e.message : String(e),
      }));
      return {
        database,
        ...(consumer === undefined
          ? {}
          : {
              kafka: {
                ok: consumer.isHealthy(),
                ...(consumer.isHealthy() ? {} : { message: "not in the consumer group" }),
              },
            }),
      };
    },
  });
  const server = await new Promise<Server>((resolvePromise) => {
    const s = serve({ fetch: api.fetch, hostname: config.api.host, port: config.api.port }, () =>
      resolvePromise(s as Server),
    ) as Server;
  });
  const port = (server.address() as AddressInfo).port;

  await store.ping();
  await consumer?.start();
  runner.start();
  log.info({ port, workerId, topic: names.retrainRequests }, "retraining worker started");

  let stopped: Promise<void> | undefined;
  return {
    apiUrl: `http://${config.api.host}:${port}`,
    wake: () => runner.wake(),
    stop() {
      stopped ??= (async () => {
        await consumer?.stop();
        await runner.stop();
        await new Promise<void>((r) => server.close(() => r()));
        await pool.end().catch(() => {});
      })();
      return stopped;
    },
  };
}

async function main(): Promise<void> {
  let config: RetrainingConfig;
  try {
    config = loadRetrainingConfig();
  } catch (err) {
    console.error(isDriftlineError(err) ? err.message : err);
    process.exit(1);
  }
  const log = createLogger(config.logLevel);
  const worker = await startRetrainingWorker(config, { log });
  const shutdown = (signal: string) => {
    log.info({ signal }, "stopping after the step in hand");
    worker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
