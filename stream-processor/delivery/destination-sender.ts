/** The DestinationSender port: one request carrying up to 1000 events to one destination. */
import type { MetaOutcome, MetaServerEventLike } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";

export interface DestinationSender {
  /** Never rejects: network failures and timeouts come back as a `transient` outcome. */
  send(
    destination: LiveDestination,
    events: readonly MetaServerEventLike[],
    testEventCode: string | undefined,
  ): Promise<MetaOutcome>;
}
