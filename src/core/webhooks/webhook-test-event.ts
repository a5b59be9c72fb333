/** The CloudEvent `POST /v1/webhooks/{id}/test` sends: shaped like an alert, marked as a test. */
import { type CloudEvent, cloudEventSchema } from "../monitoring/cloud-event.ts";

/** Not an alert type: receivers can tell a test from a real alert by it. */
export const WEBHOOK_TEST_EVENT_TYPE = "dev.driftline.webhook.test";

export interface WebhookTestEventInput {
  /** The event id, also the delivery's `webhook-id`. */
  id: string;
  tenant: string;
  endpointId: string;
  /** Epoch ms. */
  timeMs: number;
}

export function buildWebhookTestEvent(input: WebhookTestEventInput): CloudEvent<{
  endpointId: string;
  message: string;
}> {
  return cloudEventSchema.parse({
    specversion: "1.0",
    id: input.id,
    source: `/driftline/tenants/${encodeURIComponent(input.tenant)}/webhooks`,
    type: WEBHOOK_TEST_EVENT_TYPE,
    time: new Date(input.timeMs).toISOString(),
    subject: input.endpointId,
    datacontenttype: "application/json",
    data: {
      endpointId: input.endpointId,
      message: "A test delivery from Driftline: this endpoint receives signed alerts.",
    },
  }) as CloudEvent<{ endpointId: string; message: string }>;
}
