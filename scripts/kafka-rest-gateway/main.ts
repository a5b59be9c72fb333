/** Entry of the Kafka REST gateway: `npx tsx scripts/kafka-rest-gateway/main.ts`. */
import { serve } from "@hono/node-server";
import type { KafkaConfig } from "kafkajs";
import pino from "pino";
import { allTopicNames } from "#core/topics";
import { type GatewayConfig, parseGatewayConfig } from "./gateway-config";
import { createKafkaRestGateway } from "./kafka-rest-gateway";
import { KafkajsRecordProducer } from "./record-producer";

const log = pino({ name: "kafka-rest-gateway" });

function kafkaClientConfig(config: GatewayConfig): Omit<KafkaConfig, "brokers"> {
  const sasl =
    config.KAFKA_SASL_MECHANISM && config.KAFKA_SASL_USERNAME && config.KAFKA_SASL_PASSWORD
      ? {
          mechanism: config.KAFKA_SASL_MECHANISM,
          username: config.KAFKA_SASL_USERNAME,
          password: config.KAFKA_SASL_PASSWORD,
        }
      : undefined;
  return { ssl: config.KAFKA_SSL, ...(sasl ? { sasl } : {}) } as Omit<KafkaConfig, "brokers">;
}

let config: GatewayConfig;
try {
  config = parseGatewayConfig(process.env);
} catch (err) {
  log.fatal((err as Error).message);
  process.exit(1);
}

const topics = allTopicNames(config.KAFKA_TOPIC_PREFIX);
const producer = new KafkajsRecordProducer({
  brokers: config.KAFKA_BROKERS,
  kafka: kafkaClientConfig(config),
  sendTimeoutMs: config.KAFKA_REST_PRODUCE_TIMEOUT_MS,
});
const app = createKafkaRestGateway({
  producer,
  topics,
  clusterId: config.KAFKA_REST_CLUSTER_ID,
  auth:
    config.KAFKA_REST_API_KEY && config.KAFKA_REST_API_SECRET
      ? { apiKey: config.KAFKA_REST_API_KEY, apiSecret: config.KAFKA_REST_API_SECRET }
      : undefined,
  maxBodyBytes: config.KAFKA_REST_MAX_BODY_BYTES,
  maxBatchEntries: config.KAFKA_REST_MAX_BATCH_ENTRIES,
  logError: (message, context) => log.error(context, message),
});

const server = serve(
  { fetch: app.fetch, hostname: config.KAFKA_REST_HOST, port: config.KAFKA_REST_PORT },
  (info) => {
    log.info(
      {
        url: `http://${info.address}:${info.port}`,
        brokers: config.KAFKA_BROKERS,
        clusterId: config.KAFKA_REST_CLUSTER_ID,
        topics,
        auth: Boolean(config.KAFKA_REST_API_KEY),
      },
      "kafka rest gateway listening",
    );
  },
);
server.on("error", (err) => {
  log.fatal({ err }, "kafka rest gateway could not listen");
  process.exit(1);
});

// Connect early so the first produce does not pay for it; /ready reports the outcome.
void producer.ready().then((ok) => {
  if (!ok) log.warn({ brokers: config.KAFKA_BROKERS }, "Kafka does not answer yet; /ready is 503");
});

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping: finishing requests in hand");
  // close() stops accepting connections and waits for requests in flight to be answered.
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await producer.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
