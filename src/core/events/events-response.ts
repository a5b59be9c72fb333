/** The 202 answer of the event routes: counts plus one result per event, in request order. */

import { z } from "zod";
import type { PreparedEvent } from "./prepare-events.ts";

export const eventResultSchema = z.object({
  index: z.int().nonnegative(),
  status: z.enum(["accepted", "duplicate", "rejected"]),
  /** Null only for a rejected event whose event_id could not be read. */
  eventId: z.string().nullable(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});
export type EventResult = z.infer<typeof eventResultSchema>;

export const eventsResponseSchema = z.object({
  accepted: z.int().nonnegative(),
  duplicates: z.int().nonnegative(),
  rejected: z.int().nonnegative(),
  results: z.array(eventResultSchema),
});
export type EventsResponse = z.infer<typeof eventsResponseSchema>;

/**
 * Builds the response from `prepareEvents` results once deduplication has run: `duplicateIndexes`
 * are the accepted candidates the dedup store had already seen.
 */
export function buildEventsResponse(
  prepared: readonly PreparedEvent[],
  duplicateIndexes: ReadonlySet<number> = new Set(),
): EventsResponse {
  const response: EventsResponse = { accepted: 0, duplicates: 0, rejected: 0, results: [] };
  for (const event of prepared) {
    if (event.status === "rejected") {
      response.rejected += 1;
      response.results.push({
        index: event.index,
        status: "rejected",
        eventId: event.eventId,
        errors: event.errors,
      });
    } else if (duplicateIndexes.has(event.index)) {
      response.duplicates += 1;
      response.results.push({ index: event.index, status: "duplicate", eventId: event.eventId });
    } else {
      response.accepted += 1;
      response.results.push({ index: event.index, status: "accepted", eventId: event.eventId });
    }
  }
  return response;
}
