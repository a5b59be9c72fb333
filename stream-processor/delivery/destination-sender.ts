/** The DestinationSender port: one request carrying up to 1000 events to one destination. */
import type { MetaOutcome } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";

export interface DestinationSender {
  /** Never rejects: network failures and timeouts come back as a `transient` outcome. */
  send(
    destination: LiveDestination,
    /** Each event as JSON text (an object), spliced into the request body as is. */
    eventJsons: readonly string[],
    testEventCode: string | undefined,
  ): Promise<MetaOutcome>;
}
