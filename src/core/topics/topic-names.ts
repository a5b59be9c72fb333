/** Driftline's Kafka topic names, derived from one configurable prefix. */
import { ConfigError } from "../errors.ts";

/** Logical topics; the values are the unprefixed Kafka names. */
export const TOPICS = {
  events: "events",
  capi: "capi",
  predictions: "predictions",
  alerts: "alerts",
  retrainRequests: "retrain-requests",
  dlq: "dlq",
  /** Model versions uploaded and promoted at the edge (see model-registry-message.ts). */
  models: "model-registry",
} as const;

export type TopicKey = keyof typeof TOPICS;
export type TopicNames = { readonly [K in TopicKey]: string };

/** Kafka's own rule (kafka.common.internals.Topic): ASCII letters, digits, `.`, `_`, `-`. */
const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;
/** Kafka rejects longer names (249 chars, so partition directories fit in 255). */
export const MAX_TOPIC_NAME_LENGTH = 249;

export function isValidTopicName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= MAX_TOPIC_NAME_LENGTH &&
    name !== "." &&
    name !== ".." &&
    LEGAL_TOPIC_NAME.test(name)
  );
}

/**
 * The full topic names for `prefix` (e.g. `"staging."` → `staging.events`). Throws a ConfigError
 * for a prefix Kafka would reject, so a typo fails at start rather than on the first produce.
 */
export function topicNames(prefix = ""): TopicNames {
  const longest = Math.max(...Object.values(TOPICS).map((t) => t.length));
  if (prefix !== "" && !LEGAL_TOPIC_NAME.test(prefix)) {
    throw new ConfigError(
      `Topic prefix "${prefix}" is not valid: use only ASCII letters, digits, '.', '_' and '-'.`,
      { context: { prefix } },
    );
  }
  if (prefix.length + longest > MAX_TOPIC_NAME_LENGTH) {
    throw new ConfigError(
      `Topic prefix is ${prefix.length} characters long; at most ${MAX_TOPIC_NAME_LENGTH - longest} fit Kafka's ${MAX_TOPIC_NAME_LENGTH}-character topic names.`,
      { context: { prefixLength: prefix.length } },
    );
  }
  const names = {} as Record<TopicKey, string>;
  for (const key of Object.keys(TOPICS) as TopicKey[]) names[key] = `${prefix}${TOPICS[key]}`;
  return Object.freeze(names);
}

/** Every Driftline topic for `prefix`, in a fixed order (events, capi, predictions, alerts, retrain-requests, dlq, model-registry). */
export function allTopicNames(prefix = ""): string[] {
  return Object.values(topicNames(prefix));
}
