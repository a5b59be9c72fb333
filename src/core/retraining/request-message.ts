/** The `retrain-requests` topic message as the retraining worker reads it (schema version 1). */
import { z } from "zod";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "../scoring/names.ts";

const identifier = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);

/**
 * What the stream processor publishes (`RetrainRequest` in #core/monitoring); fields the worker
 * does not use are kept as they are, so a newer producer's additions pass through.
 */
export const retrainRequestMessageSchema = z.looseObject({
  schemaVersion: z.literal(1),
  requestId: z.string().min(1).max(128),
  tenant: identifier,
  model: identifier,
  version: identifier,
  policy: z.string().min(1).max(500),
  reasons: z.array(z.string()).default([]),
  evidence: z.record(z.string(), z.unknown()).default({}),
  requestedAt: z.iso.datetime({ offset: true }),
});

export type RetrainRequestMessage = z.infer<typeof retrainRequestMessageSchema>;

export type DecodedRequest =
  | { ok: true; request: RetrainRequestMessage }
  | { ok: false; reason: string };

/** Decodes one record value; a value that is not a request is a reason, never an exception. */
export function decodeRetrainRequest(value: string | null | undefined): DecodedRequest {
  if (value === null || value === undefined || value.length === 0) {
    return { ok: false, reason: "empty value" };
  }
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return { ok: false, reason: "value is not JSON" };
  }
  const parsed = retrainRequestMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join(".") || "(message)";
    return { ok: false, reason: `${field}: ${issue?.message ?? "is invalid"}` };
  }
  return { ok: true, request: parsed.data };
}
