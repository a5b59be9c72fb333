/** The identifiers a person is erased by, hashed with the ingest's rules (Meta's normalizeAndHash). */
import { z } from "zod";
import type { FieldIssue } from "../errors.ts";
import { normalizeUserData } from "../events/normalize-user-data.ts";

/** What an erasure request names the person by; at least one field. Raw values, never logged. */
export const ErasureIdentifiersSchema = z
  .object({
    email: z.string().min(1).max(320).optional(),
    phone: z.string().min(1).max(64).optional(),
    /** The sender's customer id, as sent in `user_data.external_id` (and as a score's `entityId`). */
    externalId: z.string().min(1).max(256).optional(),
    /** A score request's `entityId`, when it is not the external id. */
    entityId: z.string().min(1).max(256).optional(),
  })
  .strict()
  .refine(
    (v) =>
      v.email !== undefined ||
      v.phone !== undefined ||
      v.externalId !== undefined ||
      v.entityId !== undefined,
    { message: "give at least one of email, phone, externalId, entityId" },
  );
export type ErasureIdentifiers = z.infer<typeof ErasureIdentifiersSchema>;

/** The person as stored data names them: `user_data` hashes and raw entity ids still to be keyed. */
export interface HashedPerson {
  /** SHA-256 hex of the normalised email, as `user_data.em` holds it. */
  em?: string;
  /** SHA-256 hex of the normalised phone number, as `user_data.ph` holds it. */
  ph?: string;
  /** SHA-256 hex of the normalised external id, as `user_data.external_id` holds it. */
  externalId?: string;
  /**
   * Raw ids whose predictions belong to the person: the external id (tenants commonly score by
   * their customer id) and the entity id. The caller keys them (`keyEntityId`) before use.
   */
  entityIds: string[];
  /** Which kinds of identifier were given, for the report and the audit log (no values). */
  given: ("email" | "phone" | "externalId" | "entityId")[];
}

export type HashPersonResult =
  | { kind: "hashed"; person: HashedPerson }
  | { kind: "invalid"; issues: FieldIssue[] };

const FIELD_OF = { em: "email", ph: "phone", external_id: "externalId" } as const;

/**
 * Hashes the identifiers exactly as the ingest hashes `user_data` (the same normaliser), so the
 * hashes equal the ones stored from events. An email or phone the ingest would refuse is refused
 * here too, naming the field, never the value.
 */
export async function hashPersonIdentifiers(input: ErasureIdentifiers): Promise<HashPersonResult> {
  const { hashed, issues } = await normalizeUserData({
    ...(input.email === undefined ? {} : { em: input.email }),
    ...(input.phone === undefined ? {} : { ph: input.phone }),
    ...(input.externalId === undefined ? {} : { external_id: input.externalId }),
  });
  if (issues.length > 0) {
    return {
      kind: "invalid",
      issues: issues.map((i) => {
        const key = i.field.split(".")[0] as keyof typeof FIELD_OF;
        return { field: FIELD_OF[key] ?? i.field, message: i.message };
      }),
    };
  }
  const blank = (["email", "phone", "externalId"] as const).filter(
    (f) =>
      input[f] !== undefined &&
      hashed[f === "email" ? "em" : f === "phone" ? "ph" : "external_id"] === undefined,
  );
  if (blank.length > 0) {
    return {
      kind: "invalid",
      issues: blank.map((field) => ({ field, message: "is blank after trimming" })),
    };
  }
  const entityIds = [
    ...new Set([input.externalId, input.entityId].filter((v): v is string => v !== undefined)),
  ];
  const person: HashedPerson = { entityIds, given: [] };
  if (hashed.em?.[0] !== undefined) person.em = hashed.em[0];
  if (hashed.ph?.[0] !== undefined) person.ph = hashed.ph[0];
  if (hashed.external_id?.[0] !== undefined) person.externalId = hashed.external_id[0];
  for (const f of ["email", "phone", "externalId", "entityId"] as const) {
    if (input[f] !== undefined) person.given.push(f);
  }
  return { kind: "hashed", person };
}
