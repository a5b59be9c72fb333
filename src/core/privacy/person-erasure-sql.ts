/** The Postgres rows linked to one person of one tenant, and the one statement that deletes them. */

/**
 * The tables an erasure deletes from, in the report's order. Postgres holds no `user_data`
 * (emails, phones and external ids stay in the event streams): a person's rows are the
 * predictions scored for their entity id, the click ids learned for those predictions, and the
 * conversion keys that would label them.
 */
export const PERSON_TABLES = ["predictions", "click_id_predictions", "conversion_keys"] as const;
export type PersonTable = (typeof PERSON_TABLES)[number];

/**
 * One statement (data-modifying CTEs share a snapshot, so the three deletes see the same
 * predictions): `$1` tenant id, `$2` keyed entity ids (text[]). Answers one row with the deleted
 * count per table, as text.
 */
export const PERSON_ERASURE_STATEMENT = `
WITH p AS (
  DELETE FROM predictions
  WHERE tenant_id = $1 AND entity_id = ANY($2::text[])
  RETURNING prediction_id, click_id
), c AS (
  DELETE FROM click_id_predictions x
  WHERE x.tenant_id = $1 AND x.prediction_id IN (SELECT prediction_id FROM p)
  RETURNING x.click_id
), k AS (
  DELETE FROM conversion_keys k
  WHERE k.tenant_id = $1
    AND ((k.key_kind = 'prediction' AND k.key IN (SELECT prediction_id FROM p))
      OR (k.key_kind = 'click' AND k.key IN (
            SELECT click_id FROM p WHERE click_id IS NOT NULL UNION SELECT click_id FROM c)))
  RETURNING 1
)
SELECT (SELECT count(*) FROM p)::text AS predictions,
       (SELECT count(*) FROM c)::text AS click_id_predictions,
       (SELECT count(*) FROM k)::text AS conversion_keys`;

/** The statement's answer row as counts per table. */
export function personErasureCounts(
  row: Record<string, unknown> | undefined,
): Record<PersonTable, number> {
  const counts = {} as Record<PersonTable, number>;
  for (const t of PERSON_TABLES) counts[t] = Number(row?.[t] ?? 0);
  return counts;
}
