/** Which events of a batch go to which destination, in requests of at most 1000 events. */
import { META_MAX_EVENTS_PER_REQUEST } from "#core/destinations";
import type { SourceRecord } from "../kafka/event-source";
import type { LiveDestination } from "./destination-directory";
import type { ForwardableMessage } from "./forwardable-message";

export interface DeliveryItem {
  /** Where the event came from: its dead letter is this record, byte for byte. */
  topic: string;
  partition: number;
  record: SourceRecord;
  /** The event as JSON text, forwarded as is. */
  eventJson: string;
}

/** One request: events of one tenant to one destination, under one test code. */
export interface DeliveryRequest {
  destination: LiveDestination;
  testEventCode: string | undefined;
  items: DeliveryItem[];
}

/**
 * A CAPI event sent to `/v1/capi/{pixel}/events` goes to the tenant's destination for that pixel
 * when it has one, else to all its destinations; a website event goes to all of them. The
 * destination's own test code (set for testing a setup) wins over the sender's.
 */
export function planDeliveries(
  records: readonly {
    topic: string;
    partition: number;
    record: SourceRecord;
    message: ForwardableMessage;
  }[],
  destinationsOf: ReadonlyMap<string, readonly LiveDestination[]>,
  maxEvents: number = META_MAX_EVENTS_PER_REQUEST,
): DeliveryRequest[] {
  const open = new Map<string, DeliveryRequest>();
  const requests: DeliveryRequest[] = [];
  for (const { topic, partition, record, message } of records) {
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
      request.items.push({ topic, partition, record, eventJson: message.eventJson });
    }
  }
  return requests;
}
