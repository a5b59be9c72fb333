/** One produce POST to a Kafka REST Proxy: URL, auth, timeout, and every failure as a typed error. */
import { DependencyUnavailableError, type DriftlineError } from "#core/errors";
import { errorForStatus, messageOf } from "./error-for-status";

export type ProduceAction = "records" | "records:batch";

export type RequestResult =
  | { kind: "ok"; status: number; text: string }
  | { kind: "error"; status: number; error: DriftlineError };

export type SendResult =
  | { kind: "ok"; body: unknown }
  | { kind: "error"; status: number; error: DriftlineError };

export interface KafkaRestTransportOptions {
  /** `…/v3/clusters/<id>/topics/`: a topic name and the action follow. */
  root: string;
  authorization: string | undefined;
  timeoutMs: number;
  fetch: (input: string, init: RequestInit) => Promise<Response>;
}

/** Sends produce requests; never throws for HTTP or network failures (they come back as errors). */
export class KafkaRestTransport {
  readonly root: string;
  private readonly authorization: string | undefined;
  private readonly timeoutMs: number;
  private readonly fetchFn: (input: string, init: RequestInit) => Promise<Response>;

  constructor(options: KafkaRestTransportOptions) {
    this.root = options.root;
    this.authorization = options.authorization;
    this.timeoutMs = options.timeoutMs;
    this.fetchFn = options.fetch;
  }

  async send(topic: string, action: ProduceAction, payload: unknown): Promise<SendResult> {
    const result = await this.request(topic, action, JSON.stringify(payload));
    if (result.kind === "error") return result;
    try {
      return { kind: "ok", body: JSON.parse(result.text) };
    } catch {
      return {
        kind: "error",
        status: 502,
        error: new DependencyUnavailableError(
          `Kafka REST answered ${result.status} for ${topic} without a JSON body.`,
          { context: { topic } },
        ),
      };
    }
  }

  /** One POST; a non-2xx answer, a network failure or a timeout comes back as an error. */
  async request(
    topic: string,
    action: ProduceAction,
    body: string | ReadableStream<Uint8Array>,
  ): Promise<RequestResult> {
    const url = `${this.root}${encodeURIComponent(topic)}/${action}`;
    const headers: Record<string, string> = {
      "content-type": "application/json",
      accept: "application/json",
    };
    if (this.authorization) headers.authorization = this.authorization;
    let response: Response;
    let text: string;
    try {
      response = await this.fetchFn(url, {
        method: "POST",
        headers,
        body,
        // A stream body is sent chunked; Node's fetch wants this said (workerd accepts it).
        ...(typeof body === "string" ? {} : { duplex: "half" }),
        signal: AbortSignal.timeout(this.timeoutMs),
      } as RequestInit);
      text = await response.text();
    } catch (err) {
      const timedOut =
        err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError");
      const reason = timedOut ? `no answer within ${this.timeoutMs} ms` : String(err);
      return {
        kind: "error",
        status: 0,
        error: new DependencyUnavailableError(`Kafka REST produce to ${topic} failed: ${reason}`, {
          cause: err,
          context: { topic },
        }),
      };
    }
    if (!response.ok) {
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const message = messageOf(parsed) ?? (text.slice(0, 200) || response.statusText);
      return {
        kind: "error",
        status: response.status,
        error: errorForStatus(response.status, message, { topic }),
      };
    }
    return { kind: "ok", status: response.status, text };
  }
}
