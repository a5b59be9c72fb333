/** The retraining request's status machine: which status may follow which, and which are final. */

export const RETRAINING_STATUSES = [
  "requested",
  "training",
  "candidate",
  "challenger",
  "promoted",
  "rolled-back",
  "rejected",
  "failed",
  "needs-external-trainer",
  "cancelled",
] as const;

export type RetrainingStatus = (typeof RETRAINING_STATUSES)[number];

/** Statuses of requests stored before the retraining worker existed; read, never written. */
export const LEGACY_RETRAINING_STATUSES = ["open", "in_progress", "completed"] as const;

export const FINAL_STATUSES: ReadonlySet<RetrainingStatus> = new Set([
  "promoted",
  "rolled-back",
  "rejected",
  "failed",
  "needs-external-trainer",
  "cancelled",
]);

const NEXT: Record<RetrainingStatus, readonly RetrainingStatus[]> = {
  requested: ["training", "rejected", "needs-external-trainer", "cancelled", "failed"],
  training: ["candidate", "rejected", "needs-external-trainer", "cancelled", "failed"],
  candidate: ["challenger", "cancelled", "failed"],
  challenger: ["promoted", "rolled-back", "cancelled", "failed"],
  promoted: [],
  "rolled-back": [],
  rejected: [],
  failed: [],
  // A version trained elsewhere and uploaded naming the request resumes the loop.
  "needs-external-trainer": ["candidate"],
  cancelled: [],
};

export function isFinalStatus(status: string): boolean {
  return FINAL_STATUSES.has(status as RetrainingStatus);
}

/** Whether a request in `from` may move to `to` (a status never follows itself). */
export function canMoveTo(from: string, to: RetrainingStatus): boolean {
  const next = NEXT[from as RetrainingStatus];
  return next?.includes(to) ?? false;
}
