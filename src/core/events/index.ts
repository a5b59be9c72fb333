/** Public API of the event core: wire schemas, Meta-exact PII normalisation + hashing, match quality, batch preparation. */

export { FORWARDING_ONLY_FIELDS } from "./build-event-message.ts";
export {
  ACTION_SOURCES,
  type ActionSource,
  type CapiRequest,
  type CapiServerEventInput,
  capiRequestEnvelopeSchema,
  capiRequestSchema,
  capiServerEventSchema,
  MAX_EVENTS_PER_REQUEST,
} from "./capi-event-schema.ts";
export { compileFastParser, UNSURE } from "./compile-fast-parser.ts";
export type { RequestContext } from "./draft-website-event.ts";
export {
  CLICK_ID_PARAMS,
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
  UTM_PARAMS,
} from "./event-message-schema.ts";
export { DEFAULT_MAX_FUTURE_SKEW_MS, MAX_EVENT_AGE_MS } from "./event-time.ts";
export {
  buildEventsResponse,
  capiMessages,
  type EventResult,
  type EventsResponse,
  eventResultSchema,
  eventsResponseSchema,
} from "./events-response.ts";
export {
  INGEST_OUTCOME_TYPE,
  type IngestOutcome,
  ingestOutcomeKey,
  ingestOutcomeSchema,
  isIngestOutcomeValue,
} from "./ingest-outcome.ts";
export {
  computeMatchQuality,
  MATCH_SIGNAL_WEIGHTS,
  type MatchQuality,
  type MatchSignal,
} from "./match-quality.ts";
export { type NormalizedUserData, normalizeUserData } from "./normalize-user-data.ts";
export {
  type NormalizedUserDataValue,
  normalizeUserDataValue,
} from "./normalize-user-data-value.ts";
export {
  type AcceptedEventCandidate,
  DEFAULT_PREPARE_EVENTS_OPTIONS,
  type PreparedBatch,
  type PreparedEvent,
  type PrepareEventsInput,
  type PrepareEventsOptions,
  prepareEvents,
  type RejectedEvent,
} from "./prepare-events.ts";
export { hexOf, sha256Hex } from "./sha256-hex.ts";
export {
  allowsQueryParam,
  DEFAULT_URL_QUERY_ALLOWLIST,
  DEFAULT_URL_QUERY_ALLOWLIST_TEXT,
  parseUrlQueryAllowlist,
  stripUrlQuery,
  type UrlQueryAllowlist,
  urlQueryAllowlistProblems,
} from "./url-query-allowlist.ts";
export {
  type HashedUserData,
  hashedUserDataSchema,
  type UserDataInput,
  userDataInputSchema,
} from "./user-data-schema.ts";
export {
  type WebsiteEventInput,
  websiteEventSchema,
  websiteRequestEnvelopeSchema,
  websiteRequestSchema,
} from "./website-event-schema.ts";
