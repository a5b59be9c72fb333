/** `GET /v1/destinations` and `DELETE /v1/destinations/{id}`: the tenant's destinations. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { NotFoundError } from "#core/errors";
import type { AppEnv } from "../app-env";
import { recordAdminAction } from "../audit/record-admin-action";
import { setForwarding } from "./destinations-create";
import {
  DESTINATIONS_ADMIN,
  DESTINATIONS_ERRORS,
  DESTINATIONS_READ,
  DESTINATIONS_SECURITY,
  DESTINATIONS_TAG,
  DestinationIdParam,
  DestinationSchema,
  publicDestination,
} from "./destinations-shared";
import { errorResponses } from "./error-responses";

const listRoute = createRoute({
  method: "get",
  path: "/v1/destinations",
  tags: [DESTINATIONS_TAG],
  summary: "List the tenant's destinations",
  description: "Live destinations, oldest first; never their tokens. Needs `read` (or `admin`).",
  security: DESTINATIONS_SECURITY,
  middleware: DESTINATIONS_READ,
  responses: {
    200: {
      description: "The destinations",
      content: {
        "application/json": { schema: z.object({ data: z.array(DestinationSchema) }) },
      },
    },
    ...DESTINATIONS_ERRORS,
  },
});

const deleteRoute = createRoute({
  method: "delete",
  path: "/v1/destinations/{id}",
  tags: [DESTINATIONS_TAG],
  summary: "Remove a destination",
  description:
    "Nothing more is forwarded to it (within the delivery service's cache time, 30 s by default); its delivery statistics stay readable. Needs the `admin` role.",
  security: DESTINATIONS_SECURITY,
  middleware: DESTINATIONS_ADMIN,
  request: { params: DestinationIdParam },
  responses: {
    204: { description: "Removed" },
    ...errorResponses(404),
    ...DESTINATIONS_ERRORS,
  },
});

export const listDestinationRoutes = new OpenAPIHono<AppEnv>()
  .openapi(listRoute, async (c) => {
    const rows = await c.var.destinations.list(c.var.auth.tenant);
    return c.json({ data: rows.map(publicDestination) }, 200);
  })
  .openapi(deleteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const notFound = () =>
      new NotFoundError(`This tenant has no destination ${id}; GET /v1/destinations lists them.`);
    const existing = (await c.var.destinations.list(c.var.auth.tenant)).find((d) => d.id === id);
    if (existing === undefined) throw notFound();
    await recordAdminAction(c, {
      action: "destination.delete",
      target: `destination:${id}`,
      before: publicDestination(existing),
      after: null,
    });
    // A concurrent delete may have won since the read: the entry stands for this attempt.
    if (!(await c.var.destinations.disable(c.var.auth.tenant, id))) throw notFound();
    // The last one gone: the tenant's messages stop carrying what only a destination needs.
    if ((await c.var.destinations.list(c.var.auth.tenant)).length === 0) {
      await setForwarding(c.var.services.ingest.forwarding, c.var.auth.tenant, false);
    }
    return c.body(null, 204);
  });
