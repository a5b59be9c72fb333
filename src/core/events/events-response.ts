/** The 202 answer of the event routes: counts plus one result per event, in request order. */

import { z } from "zod";
import type { PreparedEvent } from "./prepare-events.ts";

export const eventResultSchema = z.object({
  index: z.int().nonnegative(),
  status: z.enum(["accepted", "duplicate", "rejected"]),
  /** Null only for a rejected event whose event_id could not be read. */
  eventId: z.string().nullable(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  /**
   * True for an accepted event whose other copy (same event_name and event_id, sent by the other
   * kind of sender: browser vs server) arrived first: both copies travel on to the destinations
   * with the shared event_id so the ad platform deduplicates them; the metrics count the first.
   */
  crossSourceCopy: z.literal(true).optional(),
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
  copyIndexes: ReadonlySet<number> = new Set(),
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
      response.results.push(
        copyIndexes.has(event.index)
          ? {
              index: event.index,
              status: "accepted",
              eventId: event.eventId,
              crossSourceCopy: true,
            }
          : { index: event.index, status: "accepted", eventId: event.eventId },
      );
    }
  }
  return response;
}

/** Longest `messages` line; an event's errors beyond it are cut (the `results` keep them all). */
const MAX_MESSAGE_CHARS = 500;

/**
 * Meta's `messages` for the CAPI answer: one line per event that was not accepted, so senders
 * that log Meta's answer (its Business SDK does) see why. Empty when every event was accepted.
 */
export function capiMessages(response: EventsResponse): string[] {
  const messages: string[] = [];
  for (const result of response.results) {
    if (result.status === "duplicate") {
      messages.push(
        `data[${result.index}]: duplicate of an event already received (event_id ${result.eventId})`,
      );
    } else if (result.status === "rejected") {
      const why = (result.errors ?? []).map((e) => `${e.field} ${e.message}`).join("; ");
      messages.push(`data[${result.index}]: rejected: ${why}`.slice(0, MAX_MESSAGE_CHARS));
    }
  }
  return messages;
}
