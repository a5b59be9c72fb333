/** Shapes shared by the delivery service's parts. */
import type { MetaOutcome } from "#core/destinations";

export type { MetaOutcome };
