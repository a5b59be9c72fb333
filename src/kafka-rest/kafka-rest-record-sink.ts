/** RecordSink over the Kafka REST Proxy v3 produce API (Confluent Cloud, or Driftline's gateway). */
import type { ProduceOutcome, ProduceRecord, RecordSink } from "../queue/queue-ports";
import { KafkaRestClient, type KafkaRestClientOptions } from "./kafka-rest-client";

/**
 * One per queue consumer invocation: its client's `maxConcurrentRequests` (default 6, a Worker
 * invocation's connection limit) bounds every produce of the invocation together. Outcomes come
 * back in record order; records of one key are produced in order (see `produceBatch`).
 */
export class KafkaRestRecordSink implements RecordSink {
  private readonly client: KafkaRestClient;

  constructor(options: KafkaRestClientOptions) {
    this.client = new KafkaRestClient(options);
  }

  async produce(topic: string, records: ProduceRecord[]): Promise<ProduceOutcome[]> {
    return this.client.produceBatch(topic, records);
  }
}
