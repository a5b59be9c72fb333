/** Limits of one score request, shared by the Worker's scoring and the upload checks. */

/** Rows per request; the public contract's batch limit. */
export const MAX_SCORE_ROWS = 1000;
