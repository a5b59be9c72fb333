/** What an event tells monitoring about labels: a conversion for a prediction (directly or by click id), or a click id → prediction mapping. */

import { CLICK_ID_PARAMS, type EventMessage } from "../events/event-message-schema.ts";

/**
 * A label-carrying event, reduced to what the label join needs.
 * - `conversion`: this event is a conversion (its name is one of the configured conversion
 *   events, or any name when none are configured) and names a prediction or click ids.
 * - `clickIds` with `predictionId`: the click ids now map to that prediction, so later
 *   conversions carrying only a click id label it (e.g. a landing-page event tagged with the
 *   prediction id, then a server-side Purchase with the same fbclid).
 */
export interface LabelSignal {
  tenant: string;
  eventName: string;
  eventId: string;
  /** Event time, epoch ms. */
  eventTimeMs: number;
  predictionId: string | undefined;
  /** Click id values (fbclid, gclid, …), in CLICK_ID_PARAMS order, distinct. */
  clickIds: string[];
  conversion: boolean;
}

/** Longest prediction / click id kept (the predictions table's limit). */
const MAX_ID_CHARS = 128;

/**
 * The label signal of an event message, or undefined when it carries neither a prediction id
 * nor a click id (most events) or cannot be used.
 *
 * @param conversionEvents event names that count as conversions; empty = every event
 */
export function labelSignalOf(
  message: Pick<
    EventMessage,
    "tenant" | "eventName" | "eventId" | "eventTimeMs" | "predictionId" | "clickIds"
  >,
  conversionEvents: ReadonlySet<string>,
): LabelSignal | undefined {
  const predictionId =
    message.predictionId !== undefined && message.predictionId.length <= MAX_ID_CHARS
      ? message.predictionId
      : undefined;
  const clickIds: string[] = [];
  for (const param of CLICK_ID_PARAMS) {
    const v = message.clickIds?.[param];
    if (v !== undefined && v.length > 0 && v.length <= MAX_ID_CHARS && !clickIds.includes(v)) {
      clickIds.push(v);
    }
  }
  if (predictionId === undefined && clickIds.length === 0) return undefined;
  const conversion = conversionEvents.size === 0 || conversionEvents.has(message.eventName);
  // A non-conversion without a prediction id says nothing: its click ids map to nothing.
  if (!conversion && predictionId === undefined) return undefined;
  return {
    tenant: message.tenant,
    eventName: message.eventName,
    eventId: message.eventId,
    eventTimeMs: message.eventTimeMs,
    predictionId,
    clickIds,
    conversion,
  };
}

/**
 * The signal as a tenant with these conversion events sees it (the processor decodes with any
 * event counted, then applies each tenant's own list): undefined when it then says nothing.
 *
 * @param conversionEvents event names that count as conversions; empty = every event
 */
export function signalForConversions(
  signal: LabelSignal,
  conversionEvents: ReadonlySet<string>,
): LabelSignal | undefined {
  const conversion = conversionEvents.size === 0 || conversionEvents.has(signal.eventName);
  if (!conversion && signal.predictionId === undefined) return undefined;
  return conversion === signal.conversion ? signal : { ...signal, conversion };
}
