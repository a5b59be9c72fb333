/** One webhook delivery: the outbox item's CloudEvent, signed, POSTed to its target. */
import { CLOUDEVENTS_JSON_CONTENT_TYPE, type createWebhookSigner } from "#core/monitoring";
import type { OutboxItem } from "./alert-outbox";

export type WebhookSigner = ReturnType<typeof createWebhookSigner>;

/**
 * Returns why the delivery failed (an HTTP status or the error), undefined when the receiver
 * took it (2xx).
 */
export async function postWebhook(
  item: OutboxItem,
  options: {
    signer: WebhookSigner | undefined;
    nowMs: number;
    timeoutMs: number;
    fetch: typeof fetch;
  },
): Promise<string | undefined> {
  const body = JSON.stringify(item.payload);
  try {
    if (options.signer === undefined) throw new Error("no MONITORING_WEBHOOK_SECRET to sign with");
    const headers = options.signer.sign({
      id: item.refId,
      timestampSeconds: Math.floor(options.nowMs / 1000),
      body,
    });
    const response = await options.fetch(item.target, {
      method: "POST",
      headers: { "content-type": CLOUDEVENTS_JSON_CONTENT_TYPE, ...headers },
      body,
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: "manual",
    });
    // The receiver's body is not needed; draining it frees the connection.
    await response.arrayBuffer().catch(() => {});
    if (response.status < 200 || response.status >= 300) return `HTTP ${response.status}`;
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
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
