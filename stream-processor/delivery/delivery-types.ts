/** Shapes shared by the delivery service's parts. */
import type { MetaOutcome } from "#core/destinations";

export type { MetaOutcome };

/** A Meta server event as the event message carries it (`message.event`), forwarded as is. */
export type MetaServerEventLike = Record<string, unknown>;
