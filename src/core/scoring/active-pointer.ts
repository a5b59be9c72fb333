/** Which version of a tenant's model serves traffic: a champion and an optional challenger share. */
import { z } from "zod";
import { IDENTIFIER_PATTERN, IDENTIFIER_RULE } from "./names.ts";

const version = z.string().regex(IDENTIFIER_PATTERN, IDENTIFIER_RULE);

export const ChallengerSchema = z.object({
  version,
  /** Fraction of the traffic (0 < share < 1) the challenger scores. */
  share: z
    .number()
    .gt(0, "must be greater than 0 (omit the challenger to remove it)")
    .lt(1, "must be less than 1 (promote the version as champion to send it all traffic)"),
});

export const ActivePointerSchema = z
  .object({
    champion: version,
    challenger: ChallengerSchema.optional(),
    /** ISO time of the promotion that wrote this pointer. */
    promotedAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((p) => p.challenger?.version !== p.champion, {
    path: ["challenger", "version"],
    message: "must differ from the champion version",
  });

export type ActivePointer = z.infer<typeof ActivePointerSchema>;
export type Challenger = z.infer<typeof ChallengerSchema>;
