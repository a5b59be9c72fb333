/** One webhook delivery: the outbox item's CloudEvent, signed, POSTed to a URL. */
import { CLOUDEVENTS_JSON_CONTENT_TYPE, type createWebhookSigner } from "#core/monitoring";
import type { OutboxItem } from "./alert-outbox";

export type WebhookSigner = ReturnType<typeof createWebhookSigner>;

/** How one attempt went: `problem` is undefined exactly when the receiver took it (2xx). */
export interface WebhookAttempt {
  /** The receiver's HTTP status; undefined when none came (timeout, refused connection). */
  statusCode: number | undefined;
  /** Why it failed: `HTTP <status>` or the error's message. */
  problem: string | undefined;
  durationMs: number;
}

/**
 * POSTs the item's payload to `url`, signed by `signer` (Standard Webhooks, `webhook-id` = the
 * outbox item's refId). Redirects are not followed: a 3xx is a failure, so a receiver cannot
 * bounce a signed delivery to a host the URL rules would refuse.
 */
export async function postWebhook(
  item: OutboxItem,
  options: {
    url: string;
    signer: WebhookSigner;
    nowMs: number;
    timeoutMs: number;
    fetch: typeof fetch;
  },
): Promise<WebhookAttempt> {
  const body = JSON.stringify(item.payload);
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  try {
    const headers = options.signer.sign({
      id: item.refId,
      timestampSeconds: Math.floor(options.nowMs / 1000),
      body,
    });
    const response = await options.fetch(options.url, {
      method: "POST",
      headers: { "content-type": CLOUDEVENTS_JSON_CONTENT_TYPE, ...headers },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "manual",
    });
    // The receiver's body is not needed; draining it frees the connection.
    await response.arrayBuffer().catch(() => {});
    const ok = response.status >= 200 && response.status < 300;
    return {
      statusCode: response.status,
      problem: ok ? undefined : `HTTP ${response.status}`,
      durationMs: elapsed(),
    };
  } catch (error) {
    return { statusCode: undefined, problem: failureText(error), durationMs: elapsed() };
  }
}

/** fetch's own message ("fetch failed") with the reason it wraps (refused address, timeout, …). */
function failureText(error: unknown): string {
  const message = (error as Error).message;
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== message
    ? `${message}: ${cause.message}`
    : message;
}

/** A URL without credentials or query (which may hold tokens), for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
