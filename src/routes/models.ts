/**
 * Models: upload versions (ONNX + manifest) and promote one (admin); list models and a model's
 * versions (read, which admin implies).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ValidationError } from "#core/errors";
import { ChallengerSchema, IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "#core/scoring";
import { assertJsonDepth, jsonSyntaxProblem } from "#core/text";
import type { AppEnv } from "../app-env";
import { useAuditLog } from "../audit/audit-services";
import { recordAdminAction } from "../audit/record-admin-action";
import { requireKey } from "../auth/require-key";
import { ADMIN_JSON_MAX_BYTES, limitBody } from "../http/body-limit";
import type { ModelRegistry } from "../model-registry/model-registry";
import { AUTH_ERRORS, BEARER_SECURITY, errorResponses } from "./error-responses";

const Identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);
const NameParam = Identifier.openapi({
  param: { name: "name", in: "path" },
  example: "conversion",
});
const VersionParam = Identifier.openapi({ param: { name: "version", in: "path" }, example: "2" });

const Pointer = z
  .object({
    champion: z.string(),
    challenger: z.object({ version: z.string(), share: z.number() }).optional(),
    promotedAt: z.string().optional(),
  })
  .openapi("ActivePointer");

const Active = z
  .object({
    pointer: Pointer,
    isDefault: z.boolean().openapi({
      description: "True when nothing was promoted and the bundled default model serves",
    }),
  })
  .nullable()
  .openapi("ActiveVersion");

export const VersionSummarySchema = z
  .object({
    version: z.string(),
    source: z.enum(["tenant", "bundled"]),
    uploadedAt: z.string(),
    sizeBytes: z.number().int(),
    sha256: z.string(),
    features: z.number().int(),
  })
  .openapi("ModelVersion");

export const ModelDetailSchema = z
  .object({ name: z.string(), versions: z.array(VersionSummarySchema), active: Active })
  .openapi("Model");

export const ModelListSchema = z
  .object({ models: z.array(z.object({ name: z.string(), active: Active })) })
  .openapi("ModelList");

// Multipart parts arrive as File (uploads) or string (plain fields); both are accepted for the
// manifest so `-F manifest=@manifest.json` and `-F 'manifest=<manifest.json'` both work.
const isFile = (v: unknown): v is File => typeof File !== "undefined" && v instanceof File;

const UploadForm = z
  .object({
    model: z
      .custom<File>(isFile, { message: "must be the ONNX file, sent as a file part named `model`" })
      .openapi({ type: "string", format: "binary", description: "The .onnx bytes" }),
    manifest: z
      .custom<File | string>((v) => isFile(v) || typeof v === "string", {
        message: "must be the manifest JSON, as a file or text part named `manifest`",
      })
      .openapi({ type: "string", format: "binary", description: "The manifest JSON" }),
  })
  .openapi("ModelUpload");

const PromoteBody = z
  .object({
    version: Identifier.openapi({ description: "The version to make champion", example: "2" }),
    challenger: ChallengerSchema.optional().openapi({
      description:
        "A version scoring `share` (0 < share < 1) of the traffic next to the champion; omit to remove the challenger",
    }),
  })
  .openapi("Promotion");

/** A multipart body is parsed whole in memory, so its declared size is checked first. */
/** The manifest (reference bins, samples) travels in the upload's body too: 4 MiB on top. */
const MANIFEST_ALLOWANCE_BYTES = 4 * 1024 * 1024;

const uploadSizeLimit = limitBody(
  (c) => c.var.services.models.maxModelBytes + MANIFEST_ALLOWANCE_BYTES,
  "a model upload",
  "models may be at most MODEL_UPLOAD_MAX_BYTES, plus 4 MiB for the manifest",
);

const uploadRoute = createRoute({
  method: "put",
  path: "/v1/models/{name}/versions/{version}",
  tags: ["models"],
  summary: "Upload a model version",
  description:
    "Stores an ONNX model and its manifest as a new, immutable version. The model must load in onnxruntime, take one float input [batch, features] named by `manifest.input`, and give the score in column `output.index` of output `output.name` for a row of default values. The path's name and version override those in the manifest. Uploading does not change which version serves; promote it for that. The version is announced to monitoring (Kafka `model-registry` → Postgres `model_versions`, with its drift reference); should that fail the answer is 503, the version stays stored, and promoting it announces it again. Needs the `admin` role.",
  security: BEARER_SECURITY,
  middleware: [requireKey("admin"), uploadSizeLimit, useAuditLog()] as const,
  request: {
    params: z.object({ name: NameParam, version: VersionParam }),
    body: { required: true, content: { "multipart/form-data": { schema: UploadForm } } },
  },
  responses: {
    201: {
      description: "Stored",
      content: {
        "application/json": {
          schema: z.object({
            model: z.string(),
            version: VersionSummarySchema,
            warnings: z.array(z.string()).optional().openapi({
              description:
                "What was stored but cannot be monitored, e.g. a manifest without a drift `reference`",
            }),
          }),
        },
      },
    },
    ...errorResponses(400, 409, 413, 415, ...AUTH_ERRORS),
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/v1/models",
  tags: ["models"],
  summary: "List the tenant's models and their active versions",
  description:
    "The tenant's models (its uploads and the bundled default) with the version each serves. Needs the `read` role (an `admin` key has it too).",
  security: BEARER_SECURITY,
  // Listing is reading: a read key's console needs the names for its drift and performance views.
  middleware: [requireKey("read")] as const,
  responses: {
    200: { description: "Models", content: { "application/json": { schema: ModelListSchema } } },
    ...errorResponses(...AUTH_ERRORS),
  },
});

const describeRoute = createRoute({
  method: "get",
  path: "/v1/models/{name}",
  tags: ["models"],
  summary: "A model's versions and active pointer",
  description:
    "Every stored version (size, SHA-256, feature count) and the active pointer (champion, challenger and its share). Needs the `read` role (an `admin` key has it too); uploading and promoting need `admin`.",
  security: BEARER_SECURITY,
  middleware: [requireKey("read")] as const,
  request: { params: z.object({ name: NameParam }) },
  responses: {
    200: {
      description: "The model",
      content: { "application/json": { schema: ModelDetailSchema } },
    },
    ...errorResponses(404, ...AUTH_ERRORS),
  },
});

const promoteRoute = createRoute({
  method: "post",
  path: "/v1/models/{name}/promote",
  tags: ["models"],
  summary: "Make a version the champion, optionally with a challenger",
  description:
    "Every isolate picks the change up within seconds (the pointer is cached for at most ACTIVE_MODEL_CACHE_TTL_MS). The promotion, with the versions it routes to, is announced to monitoring (champion / challenger status in Postgres `model_versions`); should that fail the answer is 503 with the promotion in effect, and sending it again announces it. Needs the `admin` role.",
  security: BEARER_SECURITY,
  middleware: [
    requireKey("admin"),
    limitBody(() => ADMIN_JSON_MAX_BYTES, "a promotion"),
    useAuditLog(),
  ] as const,
  request: {
    params: z.object({ name: NameParam }),
    body: { required: true, content: { "application/json": { schema: PromoteBody } } },
  },
  responses: {
    200: {
      description: "The new active pointer",
      content: { "application/json": { schema: z.object({ model: z.string(), active: Pointer }) } },
    },
    ...errorResponses(400, 404, 415, ...AUTH_ERRORS),
  },
});

/**
 * What the upload accepted but cannot monitor: a manifest without `reference` (or with features
 * missing from it) scores fine, and gets no drift results for what is missing.
 */
export function driftReferenceWarnings(manifest: unknown): string[] {
  const m = manifest as { features?: { name?: unknown }[]; reference?: { features?: object } };
  if (m.reference === undefined) {
    return [
      "The manifest has no `reference`: this version scores, but no drift is monitored for it. Add `reference.features` (bin edges, proportions and a sample per feature; `npm run models:train` writes one) and upload it as a new version.",
    ];
  }
  const covered = new Set(Object.keys(m.reference.features ?? {}));
  const missing = (m.features ?? [])
    .map((f) => String(f.name))
    .filter((featureName) => !covered.has(featureName));
  return missing.length === 0
    ? []
    : [
        `No drift reference for ${missing.map((f) => `\`${f}\``).join(", ")}: drift is not monitored for these features.`,
      ];
}

async function manifestJson(part: File | string): Promise<unknown> {
  const text = typeof part === "string" ? part : await part.text();
  assertJsonDepth(text, "manifest");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ValidationError(`The manifest part is not valid JSON: ${jsonSyntaxProblem(err)}.`, [
      { field: "manifest", message: "is not valid JSON" },
    ]);
  }
}

export const modelRoutes = new OpenAPIHono<AppEnv>()
  .openapi(uploadRoute, async (c) => {
    const { name, version } = c.req.valid("param");
    const form = c.req.valid("form");
    const manifest = await manifestJson(form.manifest);
    const summary = await c.var.services.models.upload({
      tenant: c.var.auth.tenant,
      name,
      version,
      modelBytes: await form.model.arrayBuffer(),
      manifest,
      now: c.var.services.now(),
      beforeStore: (info) =>
        recordAdminAction(c, {
          action: "model.upload",
          target: `model:${name}@${version}`,
          before: null,
          after: info,
        }),
    });
    const warnings = driftReferenceWarnings(manifest);
    return c.json(
      { model: name, version: summary, ...(warnings.length > 0 ? { warnings } : {}) },
      201,
    );
  })
  .openapi(listRoute, async (c) => {
    const models = await c.var.services.models.listModels(c.var.auth.tenant);
    return c.json({ models }, 200);
  })
  .openapi(describeRoute, async (c) => {
    const { name } = c.req.valid("param");
    return c.json(await c.var.services.models.describeModel(c.var.auth.tenant, name), 200);
  })
  .openapi(promoteRoute, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const active = await c.var.services.models.promote(
      c.var.auth.tenant,
      name,
      { champion: body.version, ...(body.challenger ? { challenger: body.challenger } : {}) },
      c.var.services.now(),
      async ({ before, after }) =>
        recordAdminAction(c, {
          action: (await isRollback(c.var.services.models, c.var.auth.tenant, name, before, after))
            ? "model.rollback"
            : "model.promote",
          target: `model:${name}`,
          before,
          after,
        }),
    );
    return c.json({ model: name, active }, 200);
  });

/**
 * A promotion is a roll back when its champion was uploaded before the champion it replaces
 * (bundled versions count from their training time).
 */
async function isRollback(
  models: ModelRegistry,
  tenant: string,
  name: string,
  before: { pointer: { champion: string } } | null,
  after: { champion: string },
): Promise<boolean> {
  if (before === null || before.pointer.champion === after.champion) return false;
  const { versions } = await models.describeModel(tenant, name);
  const uploaded = (v: string) => versions.find((x) => x.version === v)?.uploadedAt;
  const was = uploaded(before.pointer.champion);
  const now = uploaded(after.champion);
  return was !== undefined && now !== undefined && Date.parse(now) < Date.parse(was);
}
