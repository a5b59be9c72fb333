/** `POST /v1/privacy/erasures`: erases one person of the caller's tenant and answers what went from where. */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { ValidationError } from "#core/errors";
import {
  hashPersonIdentifiers,
  PERSON_TABLES,
  personRecordMatcher,
  scrubParkedBundles,
} from "#core/privacy";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { recordAdminAction } from "../audit/record-admin-action";
import { requireKey, waitUntil } from "../auth/require-key";
import { ADMIN_JSON_MAX_BYTES, limitBody } from "../http/body-limit";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

const ErasureRequestSchema = z
  .object({
    email: z.string().min(1).max(320).optional().openapi({ example: "jane@example.com" }),
    phone: z.string().min(1).max(64).optional().openapi({ example: "+1 650 555 1212" }),
    externalId: z.string().min(1).max(256).optional().openapi({
      description:
        "The person's id in your systems, as sent in user_data.external_id; predictions scored with it as entityId are erased too",
      example: "cust-42",
    }),
    entityId: z.string().min(1).max(256).optional().openapi({
      description: "The entityId you scored the person with, when it is not the external id",
    }),
  })
  .strict()
  .refine(
    (v) => Object.values(v).some((x) => x !== undefined),
    "give at least one of email, phone, externalId, entityId",
  )
  .openapi("ErasureRequest");

const ErasureReportSchema = z
  .object({
    identifiers: z
      .array(z.enum(["email", "phone", "externalId", "entityId"]))
      .openapi({ description: "Which identifiers were given (never their values)" }),
    tables: z
      .object(Object.fromEntries(PERSON_TABLES.map((t) => [t, z.number().int()])))
      .openapi({ description: "Rows deleted per Postgres table" }),
    parkedDeadLetters: z
      .object({
        records: z.number().int(),
        bundlesRewritten: z.number().int(),
        bundlesDeleted: z.number().int(),
      })
      .nullable()
      .openapi({
        description: "Records removed from parked dead-letter bundles; null when none are kept",
      }),
    notErased: z.array(z.string()).openapi({
      description: "Copies this request cannot remove, and when they go",
    }),
  })
  .openapi("ErasureReport");

const NOT_ERASED = [
  "Kafka topics (events, capi, predictions, dead letters): the person's records expire with each topic's retention.",
  "Events already forwarded to a destination (Meta): ask the destination to delete them.",
  "Aggregates (metric windows, drift, performance) and models trained before now: they hold no identifier.",
];

const ERASURE_ADMIN: MiddlewareHandler<AppEnv>[] = [requireKey("admin"), useAuditLog()];

const route = createRoute({
  method: "post",
  path: "/v1/privacy/erasures",
  tags: ["privacy"],
  summary: "Erase one person",
  description:
    "Deletes the tenant's data linked to one person: predictions scored for the entity id, the click ids and conversion keys linked to them, and their records in parked dead-letter bundles. Identifiers are normalised and SHA-256 hashed as the ingest hashes user_data (entity ids keyed with ENTITY_ID_KEY) and are never stored or logged; the audit log records which kinds were given. Running it again erases nothing more. Needs the `admin` role.",
  security: BEARER_SECURITY,
  middleware: [
    ...ERASURE_ADMIN,
    limitBody(() => ADMIN_JSON_MAX_BYTES, "an erasure request"),
  ] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: ErasureRequestSchema } } },
  },
  responses: {
    200: {
      description: "Erased; counts per table",
      content: { "application/json": { schema: ErasureReportSchema } },
    },
    ...errorResponses(400, 413, 415, ...AUTH_ERRORS),
  },
});

export const privacyErasureRoutes = new OpenAPIHono<AppEnv>().openapi(route, async (c) => {
  const body = c.req.valid("json");
  const tenant = c.var.auth.tenant;
  const { services } = c.var;
  const hashed = await hashPersonIdentifiers(body);
  if (hashed.kind === "invalid") {
    throw new ValidationError(
      "The identifiers are refused, as the ingest would refuse them.",
      hashed.issues,
    );
  }
  const { person } = hashed;
  const entityKeys = await Promise.all(
    person.entityIds.map((id) => services.entityIds.key(tenant, id)),
  );
  await recordAdminAction(c, {
    action: "person.erase",
    target: "person",
    before: null,
    after: { identifiers: person.given },
  });
  const store = services.erasures.open();
  let tables: Record<string, number>;
  try {
    tables = await store.erase(tenant, entityKeys);
  } finally {
    waitUntil(
      c,
      store.close().catch(() => undefined),
    );
  }
  const bucket = services.erasures.deadLetters;
  const parked =
    bucket === undefined
      ? undefined
      : await scrubParkedBundles(bucket, personRecordMatcher(tenant, person, entityKeys));
  return c.json(
    {
      identifiers: person.given,
      tables,
      parkedDeadLetters:
        parked === undefined
          ? null
          : {
              records: parked.records,
              bundlesRewritten: parked.rewritten,
              bundlesDeleted: parked.deleted,
            },
      notErased: NOT_ERASED,
    },
    200,
  );
});
