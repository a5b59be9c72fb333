/** Event match quality: a 0–10 score for how well an event's identifiers can match a person. */

import type { HashedUserData } from "./user-data-schema.ts";

// Meta does not publish how its Event Match Quality is computed; this is Driftline's own,
// documented approximation so that match quality can be tracked per window and compared across
// senders. Each signal counts once, however many of its fields or values are present; the sum is
// capped at 10. Weights (also in src/core/events/README.md):
//
//   signal       fields                                              points
//   email        em                                                  3
//   phone        ph                                                  3
//   externalId   external_id, app_user_id                            2
//   clickId      fbc                                                 2
//   metaId       lead_id, fb_login_id, page_scoped_user_id,          2
//                ctwa_clid, ig_sid
//   deviceId     madid, anon_id                                      1.5
//   browserId    fbp                                                 1
//   subscription subscription_id                                     1
//   ip           client_ip_address                                   0.5
//   userAgent    client_user_agent                                   0.5
//   firstName    fn, f5first, fi                                     0.5
//   lastName     ln, f5last                                          0.5
//   birthDate    db, dobd, dobm, doby                                0.5
//   zip          zp                                                  0.5
//   gender       ge                                                  0.25
//   city         ct                                                  0.25
//   state        st                                                  0.25
//   country      country                                             0.25
//
// Rationale: email and phone are the strongest person-level keys; a click id (fbc) ties the event
// to an ad click; ip + user agent + fbp identify a browser only; names and address parts are weak
// alone and matter in combination. `page_id` and `ig_account_id` name the business's own page or
// account, not the person, and score nothing. All weights are multiples of 0.25, so sums are exact.

export const MATCH_SIGNAL_WEIGHTS = {
  email: { points: 3, fields: ["em"] },
  phone: { points: 3, fields: ["ph"] },
  externalId: { points: 2, fields: ["external_id", "app_user_id"] },
  clickId: { points: 2, fields: ["fbc"] },
  metaId: {
    points: 2,
    fields: ["lead_id", "fb_login_id", "page_scoped_user_id", "ctwa_clid", "ig_sid"],
  },
  deviceId: { points: 1.5, fields: ["madid", "anon_id"] },
  browserId: { points: 1, fields: ["fbp"] },
  subscription: { points: 1, fields: ["subscription_id"] },
  ip: { points: 0.5, fields: ["client_ip_address"] },
  userAgent: { points: 0.5, fields: ["client_user_agent"] },
  firstName: { points: 0.5, fields: ["fn", "f5first", "fi"] },
  lastName: { points: 0.5, fields: ["ln", "f5last"] },
  birthDate: { points: 0.5, fields: ["db", "dobd", "dobm", "doby"] },
  zip: { points: 0.5, fields: ["zp"] },
  gender: { points: 0.25, fields: ["ge"] },
  city: { points: 0.25, fields: ["ct"] },
  state: { points: 0.25, fields: ["st"] },
  country: { points: 0.25, fields: ["country"] },
} as const satisfies Record<string, { points: number; fields: readonly (keyof HashedUserData)[] }>;

export type MatchSignal = keyof typeof MATCH_SIGNAL_WEIGHTS;

export const MAX_MATCH_QUALITY = 10;

export interface MatchQuality {
  /** 0 to 10 in steps of 0.25. */
  score: number;
  /** The signals that contributed, in the table's order. */
  signals: MatchSignal[];
}

const SIGNALS = Object.entries(MATCH_SIGNAL_WEIGHTS).map(([signal, { points, fields }]) => ({
  signal: signal as MatchSignal,
  points,
  fields: fields as readonly (keyof HashedUserData)[],
}));

/** Scores the identifiers present in (normalised) `user_data`; empty values and lists count as absent. */
export function computeMatchQuality(userData: HashedUserData): MatchQuality {
  let score = 0;
  const signals: MatchSignal[] = [];
  for (const { signal, points, fields } of SIGNALS) {
    for (const field of fields) {
      const value = userData[field];
      if (Array.isArray(value) ? value.length > 0 : value !== undefined && value !== "") {
        score += points;
        signals.push(signal);
        break;
      }
    }
  }
  return { score: Math.min(score, MAX_MATCH_QUALITY), signals };
}
