/** Public API of the event core: wire schemas, Meta-exact PII normalisation + hashing, match quality, batch preparation. */

export {
  ACTION_SOURCES,
  type ActionSource,
  type CapiRequest,
  type CapiServerEventInput,
  capiRequestEnvelopeSchema,
  capiRequestSchema,
  capiServerEventSchema,
  MAX_EVENTS_PER_REQUEST,
} from "./capi-event-schema";
export {
  EVENT_MESSAGE_SCHEMA_VERSION,
  EVENT_SOURCES,
  type EventMessage,
  type EventSource,
  eventDedupIdentity,
  eventDedupKey,
  eventDedupKeys,
  eventMessageKey,
  eventMessageSchema,
  KEY_KINDS,
  type KeyKind,
  type MetaServerEvent,
  metaServerEventSchema,
} from "./event-message-schema";
export { DEFAULT_MAX_FUTURE_SKEW_MS, MAX_EVENT_AGE_MS } from "./event-time";
export {
  buildEventsResponse,
  type EventResult,
  type EventsResponse,
  eventResultSchema,
  eventsResponseSchema,
} from "./events-response";
export {
  computeMatchQuality,
  MATCH_SIGNAL_WEIGHTS,
  type MatchQuality,
  type MatchSignal,
} from "./match-quality";
export { type NormalizedUserData, normalizeUserData } from "./normalize-user-data";
export { type NormalizedUserDataValue, normalizeUserDataValue } from "./normalize-user-data-value";
export {
  type AcceptedEventCandidate,
  DEFAULT_PREPARE_EVENTS_OPTIONS,
  type PreparedBatch,
  type PreparedEvent,
  type PrepareEventsInput,
  type PrepareEventsOptions,
  prepareEvents,
  type RejectedEvent,
  type RequestContext,
} from "./prepare-events";
export { sha256Hex } from "./sha256-hex";
export {
  type HashedUserData,
  hashedUserDataSchema,
  type UserDataInput,
  userDataInputSchema,
} from "./user-data-schema";
export {
  type WebsiteEventInput,
  websiteEventSchema,
  websiteRequestEnvelopeSchema,
  websiteRequestSchema,
} from "./website-event-schema";
