/** Which events of a batch go to which destination, in requests of at most 1000 events. */
import { META_MAX_EVENTS_PER_REQUEST } from "#core/destinations";
import type { SourceRecord } from "../kafka/event-source";
import type { MetaServerEventLike } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";

/** The fields of an event message the delivery reads; the rest travels inside `event`. */
export interface ForwardableMessage {
  tenant: string;
  source?: string;
  pixelId?: string;
  testEventCode?: string;
  event: MetaServerEventLike;
}

export interface DeliveryItem {
  record: SourceRecord;
  event: MetaServerEventLike;
}

/** One request: events of one tenant to one destination, under one test code. */
export interface DeliveryRequest {
  destination: LiveDestination;
  testEventCode: string | undefined;
  items: DeliveryItem[];
}

/**
 * Reads the message's envelope. A record that is not an event message is not forwarded: the
 * stream processor's metrics group dead-letters it with the reason, once.
 */
export function readForwardable(value: Buffer | null): ForwardableMessage | undefined {
  if (value === null || value.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(value.toString("utf8"));
  } catch {
    return undefined;
  }
  if (typeof json !== "object" || json === null) return undefined;
  const m = json as Record<string, unknown>;
  if (typeof m.tenant !== "string" || typeof m.event !== "object" || m.event === null) {
    return undefined;
  }
  return {
    tenant: m.tenant,
    ...(typeof m.source === "string" ? { source: m.source } : {}),
    ...(typeof m.pixelId === "string" ? { pixelId: m.pixelId } : {}),
    ...(typeof m.testEventCode === "string" ? { testEventCode: m.testEventCode } : {}),
    event: m.event as MetaServerEventLike,
  };
}

/**
 * A CAPI event sent to `/v1/capi/{pixel}/events` goes to the tenant's destination for that pixel
 * when it has one, else to all its destinations; a website event goes to all of them. The
 * destination's own test code (set for testing a setup) wins over the sender's.
 */
export function planDeliveries(
  records: readonly { record: SourceRecord; message: ForwardableMessage }[],
  destinationsOf: ReadonlyMap<string, readonly LiveDestination[]>,
  maxEvents: number = META_MAX_EVENTS_PER_REQUEST,
): DeliveryRequest[] {
  const open = new Map<string, DeliveryRequest>();
  const requests: DeliveryRequest[] = [];
  for (const { record, message } of records) {
    const all = destinationsOf.get(message.tenant) ?? [];
    if (all.length === 0) continue;
    const samePixel =
      message.pixelId === undefined
        ? []
        : all.filter((d) => d.settings.pixelId === message.pixelId);
    for (const destination of samePixel.length > 0 ? samePixel : all) {
      const testEventCode = destination.settings.testEventCode ?? message.testEventCode;
      const key = `${destination.tenant}\u0000${destination.id}\u0000${testEventCode ?? ""}`;
      let request = open.get(key);
      if (request === undefined || request.items.length >= maxEvents) {
        request = { destination, testEventCode, items: [] };
        open.set(key, request);
        requests.push(request);
      }
      request.items.push({ record, event: message.event });
    }
  }
  return requests;
}
