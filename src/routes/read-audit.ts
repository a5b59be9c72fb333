/** `GET /v1/audit`: the tenant's audit log (admin actions with actor, request id, before and after), newest first. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { AUDIT_ACTIONS } from "#core/audit";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { requireKey } from "../auth/require-key";
import {
  CursorParam,
  decodeCursor,
  LimitParam,
  MAX_RANGE_MS,
  pageOf,
  readRange,
} from "../read-api/read-params";
import { iso, pageSchema, READ_ERRORS, READ_SECURITY } from "./read-shared";

const instant = (name: "from" | "to", what: string) =>
  z
    .string()
    .optional()
    .openapi({
      param: { name, in: "query" },
      description: `${what}: epoch ms or an ISO 8601 date-time with a zone`,
    });

export const AuditEntrySchema = z
  .object({
    id: z.string().openapi({ description: "Increasing with each entry written" }),
    recordedAt: z.iso.datetime().openapi({ description: "The database's time of the write" }),
    actor: z.discriminatedUnion("kind", [
      z.object({ kind: z.literal("api-key"), keyId: z.string() }),
      z.object({ kind: z.literal("operator"), name: z.string() }),
    ]),
    requestId: z.string(),
    action: z.enum(AUDIT_ACTIONS),
    target: z.string().openapi({ example: "webhook:3f1c2b7e-0d9a-4c51-8a57-3b1e2f4d6a90" }),
    before: z.unknown().openapi({ description: "The target's state before (null: it was new)" }),
    after: z.unknown().openapi({ description: "Its state after (null: it was removed)" }),
  })
  .openapi("AuditEntry");

const route = createRoute({
  method: "get",
  path: "/v1/audit",
  tags: ["audit"],
  summary: "List the audit log",
  description:
    "Every admin action of this tenant (API keys created or revoked, model uploads, promotions and roll backs, webhooks and destinations created or deleted, monitoring settings changed), newest first, in [from, to) (default the last 31 days, at most 31 days per request), optionally of one `action`. States hold ids and fingerprints, never a key, token or secret. Entries cannot be changed or deleted. Needs the `admin` role.",
  security: READ_SECURITY,
  middleware: [requireKey("admin"), useAuditLog()] as const,
  request: {
    query: z.object({
      action: z
        .enum(AUDIT_ACTIONS)
        .optional()
        .openapi({ param: { name: "action", in: "query" } }),
      from: instant("from", "Start of the range (inclusive; default: `to` − 31 days)"),
      to: instant("to", "End of the range (exclusive; default: now)"),
      limit: LimitParam,
      cursor: CursorParam,
    }),
  },
  responses: {
    200: {
      description: "A page of entries, newest first",
      content: { "application/json": { schema: pageSchema(AuditEntrySchema, "AuditPage") } },
    },
    ...READ_ERRORS,
  },
});

export const readAuditRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const query = c.req.valid("query");
  const nowMs = c.var.services.now().getTime();
  // Without `from`, the longest range a request may cover, ending at `to`.
  const toMs = query.to === undefined ? nowMs : readRange({ to: query.to }, nowMs).toMs;
  const range = readRange(
    { from: query.from ?? String(toMs - MAX_RANGE_MS), to: String(toMs) },
    nowMs,
  );
  const before = decodeCursor(query.cursor);
  const entries = await c.var.audit.list({
    tenant: c.var.auth.tenant,
    ...range,
    ...(query.action === undefined ? {} : { action: query.action }),
    ...(before === undefined ? {} : { before }),
    limit: query.limit,
  });
  const page = pageOf(entries, query.limit);
  c.header("Cache-Control", "no-store");
  return c.json(
    {
      data: page.items.map((e) => ({
        id: e.id,
        recordedAt: iso(e.recordedAtMs),
        actor: e.actor,
        requestId: e.requestId,
        action: e.action,
        target: e.target,
        before: e.before,
        after: e.after,
      })),
      ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
    },
    200,
  );
});
