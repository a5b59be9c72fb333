/** ensureTopics from the core, run with a kafkajs admin client that lives for the call. */

import { Kafka, type KafkaConfig, logLevel } from "kafkajs";
import {
  type EnsureTopicsOptions,
  type EnsureTopicsResult,
  ensureTopicsWith,
  type TopicSpec,
} from "#core/topics";

export async function ensureTopics(
  brokers: string[],
  topics: TopicSpec[],
  options: EnsureTopicsOptions & { kafka?: Omit<KafkaConfig, "brokers"> } = {},
): Promise<EnsureTopicsResult> {
  if (topics.length === 0) return { created: [], existing: [] };
  const kafka = new Kafka({
    clientId: "driftline-ensure-topics",
    logLevel: logLevel.NOTHING,
    ...options.kafka,
    brokers,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await ensureTopicsWith(admin, topics, options);
  } finally {
    await admin.disconnect();
  }
}
