/**
 * Creates the Kafka topics that are missing (idempotent), leaving existing topics as they are.
 * Pure over a small admin port, so the stream processor and the local stack share the rule while
 * each brings its own Kafka client.
 */

export interface TopicSpec {
  name: string;
  /** Partitions for a topic created here; default `defaultPartitions` (3). Never changed later. */
  partitions?: number;
  /** Default 1: the local broker is a single node. Confluent Cloud needs 3. */
  replicationFactor?: number;
  /** Topic-level configs, e.g. `{ "retention.ms": "604800000" }`. */
  configs?: Record<string, string>;
}

/** What ensureTopics needs of a Kafka admin client; kafkajs' `Admin` satisfies it. */
export interface TopicAdmin {
  listTopics(): Promise<string[]>;
  createTopics(options: {
    waitForLeaders: boolean;
    timeout: number;
    topics: {
      topic: string;
      numPartitions: number;
      replicationFactor: number;
      configEntries: { name: string; value: string }[];
    }[];
  }): Promise<boolean>;
}

export interface EnsureTopicsOptions {
  /** Partitions for specs that name none. Default 3. */
  defaultPartitions?: number;
  /** Upper bound for creating the topics and waiting for their leaders, ms. Default 30 000. */
  timeoutMs?: number;
}

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
}

/**
 * Idempotent: topics that already exist are reported in `existing` and not altered (a partition
 * count that differs from the spec is not "fixed": repartitioning moves keys between partitions).
 * Safe to run concurrently from several processes; a topic created by a racing process counts as
 * existing. The caller connects and disconnects the admin.
 */
export async function ensureTopicsWith(
  admin: TopicAdmin,
  topics: readonly TopicSpec[],
  options: EnsureTopicsOptions = {},
): Promise<EnsureTopicsResult> {
  const unique = [...new Map(topics.map((t) => [t.name, t])).values()];
  if (unique.length === 0) return { created: [], existing: [] };
  const present = new Set(await admin.listTopics());
  const missing = unique.filter((t) => !present.has(t.name));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      timeout: options.timeoutMs ?? 30_000,
      topics: missing.map((t) => ({
        topic: t.name,
        numPartitions: t.partitions ?? options.defaultPartitions ?? 3,
        replicationFactor: t.replicationFactor ?? 1,
        configEntries: Object.entries(t.configs ?? {}).map(([name, value]) => ({ name, value })),
      })),
    });
  }
  // createTopics answers false (not an error) for topics another process created meanwhile,
  // so "created" is what was missing at the listing above.
  const createdNames = new Set(missing.map((t) => t.name));
  return {
    created: unique.filter((t) => createdNames.has(t.name)).map((t) => t.name),
    existing: unique.filter((t) => !createdNames.has(t.name)).map((t) => t.name),
  };
}
