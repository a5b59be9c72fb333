/** `POST /v1/webhooks/{id}/test`: sends a signed test event to the endpoint now and answers how it went. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { DriftlineError, NotFoundError, ValidationError } from "#core/errors";
import {
  buildWebhookTestEvent,
  checkResolvedHost,
  checkWebhookUrl,
  openWebhookSecret,
  WEBHOOK_TEST_EVENT_TYPE,
} from "#core/webhooks";
import type { AppEnv } from "../app-env";
import { sendSignedEvent } from "../webhooks/send-signed-event";
import type { WebhookServices } from "../webhooks/webhook-store";
import { errorResponses } from "./error-responses";
import { iso } from "./read-shared";
import {
  WEBHOOKS_ADMIN,
  WEBHOOKS_ERRORS,
  WEBHOOKS_SECURITY,
  WEBHOOKS_TAG,
  WebhookIdParam,
} from "./webhooks-shared";

const route = createRoute({
  method: "post",
  path: "/v1/webhooks/{id}/test",
  tags: [WEBHOOKS_TAG],
  summary: "Send a test delivery",
  description: `POSTs a signed CloudEvent of type \`${WEBHOOK_TEST_EVENT_TYPE}\` to the endpoint now (with a timeout, redirects not followed), records the attempt among its deliveries and answers the outcome: 200 whether or not the receiver accepted it. Before sending, the endpoint's hostname is resolved (DNS over HTTPS, \`WEBHOOK_DNS_RESOLVER_URL\`; in production by default) and every address it resolves to is checked by the rules deliveries apply: one loopback, private, link-local or metadata address refuses the send with a 400 naming it; a hostname that does not resolve is a failed attempt. Needs the \`admin\` role.`,
  security: WEBHOOKS_SECURITY,
  middleware: WEBHOOKS_ADMIN,
  request: { params: WebhookIdParam },
  responses: {
    200: {
      description: "The attempt was made; `delivered` says whether the receiver answered 2xx",
      content: {
        "application/json": {
          schema: z
            .object({
              deliveryId: z.string(),
              eventId: z.string(),
              delivered: z.boolean(),
              statusCode: z.number().int().optional(),
              error: z.string().optional(),
              durationMs: z.number().int(),
              attemptedAt: z.iso.datetime(),
            })
            .openapi("WebhookTestResult"),
        },
      },
    },
    ...errorResponses(404),
    ...WEBHOOKS_ERRORS,
  },
});

type AddressCheck =
  | { kind: "ok" }
  | { kind: "refused"; message: string }
  | { kind: "unresolved"; message: string; durationMs: number };

/**
 * Resolves the URL's hostname and checks every address by the rules the stream processor's
 * deliveries apply when they connect (checkResolvedHost). IP literals were checked with the URL.
 * The runtime's fetch resolves again when it connects; on Cloudflare that fetch does not reach
 * private or loopback addresses either, so a record changed in between gains nothing there.
 */
async function checkEndpointAddresses(
  url: string,
  webhooks: WebhookServices,
): Promise<AddressCheck> {
  const hostname = new URL(url).hostname.replace(/\.$/, "");
  if (webhooks.resolver === undefined || isIpLiteral(hostname)) return { kind: "ok" };
  const started = performance.now();
  const resolution = await webhooks.resolver.resolveAll(hostname);
  if (!resolution.ok || resolution.addresses.length === 0) {
    return {
      kind: "unresolved",
      message: `${hostname} did not resolve: ${resolution.ok ? "it has no A or AAAA record" : resolution.message}`,
      durationMs: Math.round(performance.now() - started),
    };
  }
  const check = checkResolvedHost(hostname, resolution.addresses, {
    allowLocal: webhooks.allowLocalUrls,
  });
  return check.ok ? { kind: "ok" } : { kind: "refused", message: check.message };
}

function isIpLiteral(hostname: string): boolean {
  return hostname.startsWith("[") || /^\d{1,3}(\.\d{1,3}){3}$/.test(hostname);
}

export const testWebhookRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const { id } = c.req.valid("param");
  const { webhooks, now } = c.var.services;
  const tenant = c.var.auth.tenant;
  const endpoint = await c.var.webhooks.getEndpoint(tenant, id);
  if (endpoint === undefined)
    throw new NotFoundError(`No webhook endpoint "${id}" for this tenant.`);
  // Checked again: the rules in force now (production or not) decide, not those at registration.
  const check = checkWebhookUrl(endpoint.url, { allowLocal: webhooks.allowLocalUrls });
  if (!check.ok) {
    throw new ValidationError(`The endpoint's URL is refused: ${check.message}.`, [
      { field: "url", message: check.message },
    ]);
  }
  const resolved = await checkEndpointAddresses(check.url, webhooks);
  if (resolved.kind === "refused") {
    throw new ValidationError(
      `The endpoint's URL is refused: ${resolved.message}. Deliveries connect only to public addresses; point the hostname at one.`,
      [{ field: "url", message: resolved.message }],
    );
  }
  const opened = await openWebhookSecret(await webhooks.encryptionKey(), endpoint.secretSealed, {
    tenant,
    endpointId: endpoint.id,
  });
  if (!opened.ok) {
    throw new DriftlineError(
      "CONFIG",
      `The endpoint's secret cannot be opened (${opened.reason}); check WEBHOOK_ENCRYPTION_KEY, or delete and register the endpoint again.`,
    );
  }
  const nowMs = now().getTime();
  const event = buildWebhookTestEvent({
    id: `whtest_${crypto.randomUUID()}`,
    tenant,
    endpointId: endpoint.id,
    timeMs: nowMs,
  });
  const outcome =
    resolved.kind === "unresolved"
      ? { statusCode: undefined, error: resolved.message, durationMs: resolved.durationMs }
      : await sendSignedEvent({
          url: check.url,
          secret: opened.secret,
          event,
          nowMs,
          timeoutMs: webhooks.testTimeoutMs,
          fetch: webhooks.fetch,
        });
  const recorded = await c.var.webhooks.recordDelivery({
    tenant,
    endpointId: endpoint.id,
    eventId: event.id,
    eventType: WEBHOOK_TEST_EVENT_TYPE,
    attempt: 1,
    statusCode: outcome.statusCode,
    error: outcome.error,
    durationMs: outcome.durationMs,
    attemptedAtMs: nowMs,
    nextAttemptAtMs: undefined,
  });
  return c.json(
    {
      deliveryId: recorded.id,
      eventId: event.id,
      delivered: outcome.error === undefined,
      ...(outcome.statusCode === undefined ? {} : { statusCode: outcome.statusCode }),
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
      durationMs: outcome.durationMs,
      attemptedAt: iso(nowMs),
    },
    200,
  );
});
