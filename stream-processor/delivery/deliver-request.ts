/**
 * One request to one destination until it has a final answer: delivered, dead-lettered (Meta
 * refused its events for good; a request refused for one bad event is halved until the bad ones
 * stand alone), or parked (the destination keeps failing transiently and is paused).
 */
import type { Logger } from "pino";
import { type DeadLetter, letterFor } from "../kafka/dead-letter-sink";
import type { MetaOutcome } from "./delivery-types";
import type { DestinationSender } from "./destination-sender";
import type { DeliveryItem, DeliveryRequest } from "./plan-deliveries";

/** One request's final answer, stored in `destination_batches`. */
export interface BatchRecord {
  tenant: string;
  destinationId: string;
  status: "delivered" | "dead-lettered";
  events: number;
  attempts: number;
  httpStatus: number | null;
  eventsReceived: number | null;
  fbtraceId: string | null;
  messages: string[];
  error: string | null;
}

/** Events a paused destination could not take; stored with the batch, sent when it answers again. */
export interface ParkedRequest {
  request: DeliveryRequest;
  /** The destination's last transient error. */
  reason: string;
}

/** What the requests of one batch (or one parked chunk) came to; committed together. */
export interface DeliveryResults {
  records: BatchRecord[];
  letters: DeadLetter[];
  parked: ParkedRequest[];
}

export const emptyResults = (): DeliveryResults => ({ records: [], letters: [], parked: [] });

/** Per destination kind: what became of events, for /metrics. */
export interface DeliveryObserver {
  forwarded(kind: string, events: number): void;
  /** An attempt failed transiently (the events are retried or parked). */
  failed(kind: string, events: number): void;
  deadLettered(kind: string, events: number): void;
  parked(kind: string, events: number): void;
  requestSeconds(kind: string, seconds: number): void;
}

export const noDeliveryObserver: DeliveryObserver = {
  forwarded: () => {},
  failed: () => {},
  deadLettered: () => {},
  parked: () => {},
  requestSeconds: () => {},
};

/**
 * What to do after a transient failure (`attempt` ≥ 1, `failingSinceMs` the first failure of this
 * request): wait and retry, park the request's events, or give up (the batch is abandoned and
 * fetched again).
 */
export type TransientDecision = (
  request: DeliveryRequest,
  outcome: Extract<MetaOutcome, { kind: "transient" }>,
  attempt: number,
  failingSinceMs: number,
) => Promise<"retry" | "park" | "abandon">;

export interface DeliverDeps {
  sender: DestinationSender;
  log: Logger;
  observer: DeliveryObserver;
  onTransient: TransientDecision;
  nowMs?: () => number;
}

/** Sends `request` until it has a final answer, adding it to `out`; false when abandoned. */
export async function deliverRequest(
  deps: DeliverDeps,
  request: DeliveryRequest,
  out: DeliveryResults,
): Promise<boolean> {
  const { destination, testEventCode, items } = request;
  const now = deps.nowMs ?? Date.now;
  let failingSinceMs: number | undefined;
  for (let attempt = 1; ; attempt++) {
    const started = performance.now();
    const outcome = await deps.sender.send(
      destination,
      items.map((i) => i.eventJson),
      testEventCode,
    );
    deps.observer.requestSeconds(destination.kind, (performance.now() - started) / 1000);
    const base = {
      tenant: destination.tenant,
      destinationId: destination.id,
      events: items.length,
      attempts: attempt,
    };
    if (outcome.kind === "delivered") {
      out.records.push({
        ...base,
        status: "delivered",
        httpStatus: 200,
        eventsReceived: outcome.eventsReceived,
        fbtraceId: outcome.fbtraceId,
        messages: outcome.messages,
        error: null,
      });
      deps.observer.forwarded(destination.kind, items.length);
      return true;
    }
    if (outcome.kind === "transient") {
      deps.observer.failed(destination.kind, items.length);
      failingSinceMs ??= now();
      const decision = await deps.onTransient(request, outcome, attempt, failingSinceMs);
      if (decision === "abandon") return false;
      if (decision === "park") {
        out.parked.push({ request, reason: outcome.reason.slice(0, 1024) });
        deps.observer.parked(destination.kind, items.length);
        return true;
      }
      continue;
    }
    // Meta refuses a whole request for one bad event: halve it until the bad ones stand alone.
    if (outcome.scope === "events" && items.length > 1) {
      const mid = Math.floor(items.length / 2);
      for (const half of [items.slice(0, mid), items.slice(mid)]) {
        if (!(await deliverRequest(deps, { ...request, items: half }, out))) return false;
      }
      return true;
    }
    const reason = `${destination.kind} destination ${destination.id} (pixel ${destination.settings.pixelId}) refused ${items.length === 1 ? "the event" : `${items.length} events`}: ${outcome.reason}`;
    deps.log.error(
      {
        tenant: destination.tenant,
        destination: destination.id,
        events: items.length,
        reason: outcome.reason,
        fbtraceId: outcome.fbtraceId,
      },
      "destination refused events for good; dead-lettering them",
    );
    out.letters.push(
      ...items.map((i: DeliveryItem) =>
        letterFor({ topic: i.topic, partition: i.partition }, i.record, reason, "deliver"),
      ),
    );
    out.records.push({
      ...base,
      status: "dead-lettered",
      httpStatus: outcome.httpStatus,
      eventsReceived: null,
      fbtraceId: outcome.fbtraceId,
      messages: [],
      error: outcome.reason.slice(0, 1024),
    });
    deps.observer.deadLettered(destination.kind, items.length);
    return true;
  }
}
