/** `POST /v1/destinations`: adds a destination the tenant's accepted events are forwarded to. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  destinationInputSchema,
  sealDestinationToken,
  splitDestinationInput,
} from "#core/destinations";
import { ConflictError, DependencyUnavailableError, ValidationError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { ADMIN_JSON_MAX_BYTES, limitBody } from "../http/body-limit";
import {
  DESTINATIONS_ADMIN,
  DESTINATIONS_ERRORS,
  DESTINATIONS_SECURITY,
  DESTINATIONS_TAG,
  DestinationSchema,
  publicDestination,
} from "./destinations-shared";
import { errorResponses } from "./error-responses";

const CreateDestinationSchema = z
  .object({
    kind: z.literal("meta"),
    name: z.string().max(100).optional(),
    pixelId: z.string().openapi({ example: "1234567890123456" }),
    accessToken: z.string().openapi({
      description: "A Conversions API access token; stored encrypted, never shown again",
    }),
    testEventCode: z.string().optional().openapi({ example: "TEST12345" }),
  })
  .openapi("CreateDestination");

const route = createRoute({
  method: "post",
  path: "/v1/destinations",
  tags: [DESTINATIONS_TAG],
  summary: "Add a destination (Meta Conversions API)",
  description:
    "From now on the tenant's accepted events (website and CAPI, browser and server copies with their shared event_id) are forwarded by the delivery service to Meta's Graph API `/{pixelId}/events`, in batches of up to 1000. The access token is stored encrypted (AES-256-GCM) and never returned. With `testEventCode` every event is sent as a test event (Events Manager → Test events). Needs the `admin` role.",
  security: DESTINATIONS_SECURITY,
  middleware: [
    ...DESTINATIONS_ADMIN,
    limitBody(() => ADMIN_JSON_MAX_BYTES, "a destination"),
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: CreateDestinationSchema } } },
  },
  responses: {
    201: {
      description: "Added",
      content: { "application/json": { schema: DestinationSchema } },
    },
    ...errorResponses(409, 413, 415),
    ...DESTINATIONS_ERRORS,
  },
});

export const createDestinationRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  // The core schema is the one rule (pixel id digits, token shape); the route's is for the docs.
  const parsed = destinationInputSchema.safeParse(c.req.valid("json"));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      field: i.path.join(".") || "(body)",
      message: i.message,
    }));
    throw new ValidationError(
      `The destination is refused: ${issues.map((i) => `${i.field} ${i.message}`).join("; ")}.`,
      issues,
    );
  }
  const { destinations } = c.var.services;
  const tenant = c.var.auth.tenant;
  const id = crypto.randomUUID();
  const { settings, secret, tokenHint } = splitDestinationInput(parsed.data);
  const secretSealed = await sealDestinationToken(await destinations.encryptionKey(), secret, {
    tenant,
    destinationId: id,
  });
  // First: from now on the tenant's messages keep what the destination matches on (IP address,
  // user agent, fbc, fbp). Set before the row, so no forwarded event lacks them for long.
  await setForwarding(c.var.services.ingest.forwarding, tenant, true);
  const destination = {
    id,
    tenant,
    kind: parsed.data.kind,
    name: parsed.data.name ?? null,
    settings,
    secretSealed,
    tokenHint,
    createdAtMs: c.var.services.now().getTime(),
  };
  const result = await c.var.destinations.create(destination, destinations.maxPerTenant, () =>
    recordAdminAction(c, {
      action: "destination.create",
      target: `destination:${id}`,
      before: null,
      after: publicDestination(destination),
    }),
  );
  if (result.kind === "limit-reached") {
    throw new ConflictError(
      `This tenant already has ${result.limit} destinations, the most it may have; delete one first.`,
    );
  }
  c.header("Cache-Control", "no-store");
  return c.json(publicDestination(result.destination), 201);
});

/** Sets the tenant's forwarding flag at the edge; a 503 to retry when Upstash is down. */
export async function setForwarding(
  forwarding: { setForwarding(tenant: string, on: boolean): Promise<void> },
  tenant: string,
  on: boolean,
): Promise<void> {
  try {
    await forwarding.setForwarding(tenant, on);
  } catch (error) {
    throw new DependencyUnavailableError(
      "Cannot record the tenant's forwarding setting in Upstash Redis; retry.",
      { cause: error },
    );
  }
}
