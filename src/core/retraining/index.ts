/** Retraining: the request's status machine, its Kafka message, training sets, candidates, the offline gate and the online decision. */

export { type ArmStats, type MsprtResult, msprt } from "./msprt.ts";
export { evaluateOfflineGate, type GateMargins, type GateResult } from "./offline-gate.ts";
export {
  type DecisionEvidence,
  decideOnline,
  type OnlineDecision,
  type OnlineDecisionSettings,
} from "./online-decision.ts";
export {
  type DecodedRequest,
  decodeRetrainRequest,
  type RetrainRequestMessage,
  retrainRequestMessageSchema,
} from "./request-message.ts";
export { type RetrainInput, type RetrainOutcome, retrainCandidate } from "./retrain-candidate.ts";
export {
  RETRAINING_ALERT_TYPES,
  type RetrainingAlert,
  retrainingAlert,
} from "./retraining-alert.ts";
export {
  canMoveTo,
  FINAL_STATUSES,
  isFinalStatus,
  LEGACY_RETRAINING_STATUSES,
  RETRAINING_STATUSES,
  type RetrainingStatus,
} from "./statuses.ts";
export {
  isTrainableAlgorithm,
  TRAINABLE_ALGORITHMS,
  type TrainableAlgorithm,
  type TrainCandidateInput,
  type TrainedCandidate,
  trainCandidate,
} from "./train-candidate.ts";
export {
  prepareTrainingSet,
  type SettledRow,
  selectTrainingWindow,
  type TrainingPart,
  type TrainingSet,
  type TrainingSetCounts,
  type TrainingSetOptions,
} from "./training-set.ts";
export {
  csvHeader,
  csvLine,
  type ExportedRow,
  ndjsonLine,
  trainingSetColumns,
} from "./training-set-export.ts";
