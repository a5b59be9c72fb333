/** The Worker entry: checks the environment once, builds adapters, serves HTTP and the ingest queue. */
import { BindingReadiness } from "./adapters/binding-readiness";
import { KafkaRestRecordSink } from "./adapters/kafka-rest-record-sink";
import { upstashClient } from "./adapters/upstash-client";
import { createApp } from "./app";
import { ConfigError } from "./core/errors";
import { parseWorkerEnv, type WorkerEnv } from "./env";
import { errorBody } from "./http/errors";
import { consumeIngestBatch } from "./queue/consume-ingest-batch";
import type { Services } from "./services";

let cachedEnv: { raw: unknown; parsed: WorkerEnv } | undefined;

function workerEnv(raw: unknown): WorkerEnv {
  if (cachedEnv?.raw === raw) return cachedEnv.parsed;
  const parsed = parseWorkerEnv(raw);
  cachedEnv = { raw, parsed };
  return parsed;
}

function buildServices(env: WorkerEnv): Services {
  const redis = upstashClient(env.UPSTASH_REDIS_REST_URL, env.UPSTASH_REDIS_REST_TOKEN);
  return { readiness: new BindingReadiness(env.MODELS, redis) };
}

const app = createApp(({ env }) => buildServices(workerEnv(env)));

function log(entry: Record<string, unknown>): void {
  console.log(JSON.stringify(entry));
}

// Workers require the handler object as the module's default export.
export default {
  async fetch(request, env, ctx) {
    try {
      workerEnv(env);
    } catch (err) {
      if (err instanceof ConfigError) {
        log({ level: "error", msg: err.message });
        return Response.json(errorBody("CONFIG", err.message, crypto.randomUUID()), {
          status: 500,
        });
      }
      throw err;
    }
    return app.fetch(request, env, ctx);
  },

  async queue(batch, env) {
    const config = workerEnv(env);
    const sink = new KafkaRestRecordSink({
      baseUrl: config.KAFKA_REST_URL,
      clusterId: config.KAFKA_REST_CLUSTER_ID,
      apiKey: config.KAFKA_REST_API_KEY,
      apiSecret: config.KAFKA_REST_API_SECRET,
    });
    const result = await consumeIngestBatch(batch.messages, {
      sink,
      topicPrefix: config.KAFKA_TOPIC_PREFIX,
      log,
    });
    log({ level: "info", msg: "ingest batch", queue: batch.queue, ...result });
  },
} satisfies ExportedHandler<unknown>;
