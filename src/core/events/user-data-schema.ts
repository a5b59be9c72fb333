/** Wire schemas for `user_data`: what senders may post (raw or hashed) and what Driftline emits (hashed). */

import { z } from "zod";

/** Longest accepted value of a hashed parameter before normalisation. */
const MAX_VALUE_CHARS = 512;
/** Most values accepted in one list parameter (`em: [...]`); Meta documents no limit, this bounds work. */
export const MAX_VALUES_PER_FIELD = 50;

const rawValue = z.string().max(MAX_VALUE_CHARS, `must be at most ${MAX_VALUE_CHARS} characters`);

const LIST = `must be a string or a list of 1 to ${MAX_VALUES_PER_FIELD} strings`;
const stringOrList = (item: z.ZodType<string | number>) =>
  z.union([item, z.array(item).min(1, LIST).max(MAX_VALUES_PER_FIELD, LIST)], { error: LIST });

/** Meta ids that arrive as JSON numbers from some senders; only exact (safe) integers are accepted. */
const ID = "must be a non-empty string (or a whole number)";
const idValue = z.union(
  [z.string().min(1, ID).max(256, ID), z.int({ error: ID }).nonnegative(ID)],
  { error: ID },
);

/**
 * `fbc` = fb.<subdomain index>.<creation time ms>.<fbclid>, `fbp` = fb.<subdomain
 * index>.<creation time ms>.<random>; Meta's parameter builder may append one more dotted part.
 */
const FB_COOKIE = /^fb\.\d+\.\d+\.\S+$/;

export const userDataInputSchema = z
  .strictObject({
    em: stringOrList(rawValue).optional(),
    ph: stringOrList(rawValue).optional(),
    fn: stringOrList(rawValue).optional(),
    ln: stringOrList(rawValue).optional(),
    db: stringOrList(rawValue).optional(),
    ge: stringOrList(rawValue).optional(),
    ct: stringOrList(rawValue).optional(),
    st: stringOrList(rawValue).optional(),
    zp: stringOrList(rawValue).optional(),
    country: stringOrList(rawValue).optional(),
    // The Meta Pixel documents `external_id: 12345`; whole numbers are accepted and read as text.
    external_id: stringOrList(
      z.union([rawValue, z.int({ error: ID })], { error: "must be a string (or a whole number)" }),
    ).optional(),
    f5first: rawValue.optional(),
    f5last: rawValue.optional(),
    fi: rawValue.optional(),
    dobd: rawValue.optional(),
    dobm: rawValue.optional(),
    doby: rawValue.optional(),
    app_user_id: rawValue.optional(),
    client_ip_address: z
      .union([z.ipv4(), z.ipv6()], { error: "must be an IPv4 or IPv6 address without a port" })
      .optional(),
    client_user_agent: z.string().min(1).max(4096).optional(),
    fbc: z
      .string()
      .max(1024)
      .regex(FB_COOKIE, "must look like fb.1.<creation time ms>.<fbclid> (the _fbc cookie)")
      .optional(),
    fbp: z
      .string()
      .max(1024)
      .regex(FB_COOKIE, "must look like fb.1.<creation time ms>.<random number> (the _fbp cookie)")
      .optional(),
    subscription_id: idValue.optional(),
    fb_login_id: idValue.optional(),
    lead_id: idValue.optional(),
    anon_id: z.string().min(1).max(256).optional(),
    madid: z.string().min(1).max(256).optional(),
    page_id: idValue.optional(),
    page_scoped_user_id: idValue.optional(),
    ctwa_clid: z.string().min(1).max(1024).optional(),
    ig_account_id: idValue.optional(),
    ig_sid: z.string().min(1).max(1024).optional(),
  })
  .meta({
    description:
      "Meta customer information parameters. Contact fields (em, ph, fn, ln, db, ge, ct, st, zp, country, external_id, …) may be raw or already SHA-256 hashed; Driftline normalises and hashes raw values as Meta's Business SDK does. client_ip_address, client_user_agent, fbc, fbp and the Meta ids are never hashed.",
  });

export type UserDataInput = z.infer<typeof userDataInputSchema>;

/** Lower-case hex SHA-256 (or MD5, which Meta's SDK also passes through). */
const hashHex = z
  .string()
  .regex(/^(?:[a-f0-9]{64}|[a-f0-9]{32})$/, "must be a lower-case hex digest");
const hashList = z.array(hashHex).min(1);

/**
 * `user_data` as it appears in Kafka messages: Meta's field names, every contact field a hex digest
 * (lists for the fields the SDK sends as lists), the unhashed identifiers as strings. A raw email
 * or phone cannot pass this schema.
 */
export const hashedUserDataSchema = z.strictObject({
  em: hashList.optional(),
  ph: hashList.optional(),
  fn: hashList.optional(),
  ln: hashList.optional(),
  db: hashList.optional(),
  ge: hashList.optional(),
  ct: hashList.optional(),
  st: hashList.optional(),
  zp: hashList.optional(),
  country: hashList.optional(),
  external_id: hashList.optional(),
  f5first: hashHex.optional(),
  f5last: hashHex.optional(),
  fi: hashHex.optional(),
  dobd: hashHex.optional(),
  dobm: hashHex.optional(),
  doby: hashHex.optional(),
  app_user_id: hashHex.optional(),
  client_ip_address: z.string().optional(),
  client_user_agent: z.string().optional(),
  fbc: z.string().optional(),
  fbp: z.string().optional(),
  subscription_id: z.string().optional(),
  fb_login_id: z.string().optional(),
  lead_id: z.string().optional(),
  anon_id: z.string().optional(),
  madid: z.string().optional(),
  page_id: z.string().optional(),
  page_scoped_user_id: z.string().optional(),
  ctwa_clid: z.string().optional(),
  ig_account_id: z.string().optional(),
  ig_sid: z.string().optional(),
});

export type HashedUserData = z.infer<typeof hashedUserDataSchema>;
