/** One signed delivery of a CloudEvent to a webhook endpoint, with a timeout; the outcome is a value. */
import { CLOUDEVENTS_JSON_CONTENT_TYPE, createWebhookSigner } from "#core/monitoring";

export interface SendOutcome {
  statusCode: number | undefined;
  /** Undefined when the receiver answered 2xx. */
  error: string | undefined;
  durationMs: number;
}

export interface SendSignedEventInput {
  url: string;
  /** The endpoint's `whsec_…` secret. */
  secret: string;
  event: { id: string } & Record<string, unknown>;
  nowMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
}

/**
 * POSTs the event in structured mode with Standard Webhooks headers (`webhook-id` is the event
 * id). Redirects are not followed: a 3xx could point a delivery at a host the URL rules refuse.
 */
export async function sendSignedEvent(input: SendSignedEventInput): Promise<SendOutcome> {
  const body = JSON.stringify(input.event);
  const headers = createWebhookSigner(input.secret).sign({
    id: input.event.id,
    timestampSeconds: Math.floor(input.nowMs / 1000),
    body,
  });
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    const response = await input.fetch(input.url, {
      method: "POST",
      headers: {
        "content-type": CLOUDEVENTS_JSON_CONTENT_TYPE,
        "user-agent": "Driftline-Webhooks/1",
        ...headers,
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(input.timeoutMs),
    });
    // The receiver's body is not kept; reading it frees the connection.
    await response.arrayBuffer().catch(() => undefined);
    const ok = response.status >= 200 && response.status < 300;
    return {
      statusCode: response.status,
      error: ok
        ? undefined
        : response.status >= 300 && response.status < 400
          ? `HTTP ${response.status}: redirects are not followed; register the final URL`
          : `HTTP ${response.status}`,
      durationMs: elapsed(),
    };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return {
      statusCode: undefined,
      error:
        name === "TimeoutError" || name === "AbortError"
          ? `no response within ${input.timeoutMs} ms`
          : `request failed: ${error instanceof Error ? error.message : String(error)}`,
      durationMs: elapsed(),
    };
  }
}
