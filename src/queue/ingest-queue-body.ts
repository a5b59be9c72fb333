/** The two forms an ingest queue message body takes: an `IngestMessage` object or its JSON text. */
import type { IngestMessage } from "./ingest-message";

/**
 * Event messages travel as text (`contentType: "text"`): the Worker already has each event's JSON
 * for its size check, so the queue body is that JSON inside a small frame instead of an object the
 * runtime serialises again (and Miniflare's local queue parses, re-serialises and clones). Other
 * producers (the prediction log) send objects (`contentType: "json"`).
 */
export type IngestQueueBody = IngestMessage | string;

/**
 * `JSON.stringify({ topic, key, value })` built around `valueJson`, the value's own JSON text, so
 * the value is not serialised again. Returns the text and its UTF-8 size in bytes.
 */
export function ingestMessageText(
  topic: IngestMessage["topic"],
  key: string,
  valueJson: string,
): string {
  return `{"topic":${JSON.stringify(topic)},"key":${JSON.stringify(key)},"value":${valueJson}}`;
}

/**
 * The body as the consumer validates it: text is parsed as JSON (undefined when it is not JSON,
 * which the consumer's schema check then refuses), objects are returned as they are.
 */
export function readIngestQueueBody(body: unknown): unknown {
  if (typeof body !== "string") return body;
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
