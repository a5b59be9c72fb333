/**
 * One step of a retraining job, chosen by the request's status: requested → training →
 * candidate → challenger → promoted | rolled-back, or a final status with its reason. Each step
 * ends in one transaction (status, job state, alert and its deliveries); a step killed midway
 * is repeated from its start by the next worker, and the steps are safe to repeat: training is
 * deterministic on a frozen window, an upload that finds its version stored checks the bytes
 * instead of storing them again, and a promotion sets the same pointer.
 */
import type { Logger } from "pino";
import { DriftlineError } from "#core/errors";
import { type ModelManifest, validateModelManifest } from "#core/model-manifest";
import {
  decideOnline,
  isFinalStatus,
  isTrainableAlgorithm,
  type RetrainingStatus,
  retrainCandidate,
  retrainingAlert,
  selectTrainingWindow,
} from "#core/retraining";
import type { RetrainingConfig } from "../config";
import type { Job, JobState, RetrainingStore, Transition } from "../db/retraining-store";
import type { ModelRegistryClient, RegistryPointer } from "../rollout/model-registry-client";

export interface JobDeps {
  store: RetrainingStore;
  registry: ModelRegistryClient;
  config: RetrainingConfig;
  log: Logger;
  nowMs: () => number;
  /** Called when a step made the worker do something countable (for /metrics). */
  observe?: (event: { step: string; outcome: string }) => void;
}

type StepResult = Omit<Transition, "tenant" | "requestId" | "from" | "alert"> & {
  alertVersion?: string;
};

export async function runJob(job: Job, deps: JobDeps): Promise<void> {
  if (isFinalStatus(job.status) || job.status === "completed") {
    await deps.store.finishJob(job.tenant, job.requestId);
    return;
  }
  try {
    const result = await step(job, deps);
    if (result === undefined) return;
    await move(job, result, deps);
  } catch (error) {
    await onError(job, error, deps);
  }
}

/**
 * Resumes requests waiting for an external trainer once a version naming them was uploaded
 * (`training.retrainingRequestId` in its manifest): that version becomes the candidate, and is
 * rolled out and decided like one trained here.
 */
export async function adoptExternalUploads(deps: JobDeps): Promise<void> {
  for (const found of await deps.store.externalUploads(10)) {
    const reason = `version ${found.candidateVersion} was uploaded for this request (trained outside Driftline)`;
    const evidence = { candidateVersion: found.candidateVersion, external: true };
    const moved = await deps.store.transition(
      {
        tenant: found.tenant,
        requestId: found.requestId,
        from: "needs-external-trainer",
        to: "candidate",
        reason,
        evidence,
        state: {
          candidateVersion: found.candidateVersion,
          championVersion: found.version,
          external: true,
        },
        nextRunAtMs: deps.nowMs(),
        alert: retrainingAlert({
          tenant: found.tenant,
          requestId: found.requestId,
          model: found.model,
          version: found.candidateVersion,
          step: "candidate",
          reason,
          evidence,
          timeMs: deps.nowMs(),
          source: deps.config.alerts.source,
        }),
      },
      deps.config.alerts.operatorSinks,
    );
    deps.log.info({ ...found, moved }, reason);
  }
}

async function move(job: Job, r: StepResult, deps: JobDeps): Promise<void> {
  const now = deps.nowMs();
  const { alertVersion, ...rest } = r;
  const moved = await deps.store.transition(
    {
      ...rest,
      tenant: job.tenant,
      requestId: job.requestId,
      from: job.status,
      alert: retrainingAlert({
        tenant: job.tenant,
        requestId: job.requestId,
        model: job.model,
        version: alertVersion ?? job.version,
        step: r.to,
        reason: r.reason,
        evidence: r.evidence,
        timeMs: now,
        source: deps.config.alerts.source,
      }),
    },
    deps.config.alerts.operatorSinks,
  );
  deps.observe?.({ step: job.status, outcome: moved ? r.to : "superseded" });
  deps.log.info(
    { tenant: job.tenant, requestId: job.requestId, from: job.status, to: r.to, moved },
    moved ? `retraining request ${r.to}: ${r.reason}` : "status changed meanwhile; step dropped",
  );
  if (!moved) {
    const current = await deps.store.getJob(job.tenant, job.requestId);
    if (current !== undefined && isFinalStatus(current.status)) {
      await deps.store.finishJob(job.tenant, job.requestId);
    }
  }
}

async function onError(job: Job, error: unknown, deps: JobDeps): Promise<void> {
  const message = error instanceof Error ? error.message : String(error);
  const retryable = !(error instanceof DriftlineError) || error.retryable;
  const attempts = job.attempts + 1;
  deps.log.warn(
    { err: error, tenant: job.tenant, requestId: job.requestId, status: job.status, attempts },
    "retraining step failed",
  );
  if (retryable && attempts < deps.config.jobs.maxAttempts) {
    const backoffMs = Math.min(60_000, 1_000 * 2 ** job.attempts);
    await deps.store.reschedule(job.tenant, job.requestId, deps.nowMs() + backoffMs, {}, message);
    return;
  }
  await move(
    job,
    {
      to: "failed",
      reason: `${job.status} failed${retryable ? ` after ${attempts} attempts` : ""}: ${message}`,
      evidence: { step: job.status, attempts, error: message },
      done: true,
    },
    deps,
  );
}

/** The step for the job's status; undefined when it rescheduled itself (nothing moved). */
async function step(job: Job, deps: JobDeps): Promise<StepResult | undefined> {
  switch (job.status) {
    case "requested":
    case "open":
      return requested(job, deps);
    case "training":
    case "in_progress":
      return training(job, deps);
    case "candidate":
      return candidate(job, deps);
    case "challenger":
      return challenger(job, deps);
    default:
      throw new DriftlineError("INTERNAL", `no step for status ${job.status}`);
  }
}

function needsExternalTrainer(reason: string, evidence: Record<string, unknown>): StepResult {
  return {
    to: "needs-external-trainer",
    reason: `${reason} Train it elsewhere: GET /v1/retraining-requests/{id}/training-set gives the settled rows; upload the new version with PUT /v1/models/{name}/versions/{version}.`,
    evidence,
    done: true,
  };
}

async function championManifest(
  job: Job,
  deps: JobDeps,
): Promise<{ manifest: ModelManifest } | { missing: string }> {
  const described = await deps.registry.describe(job.tenant, job.model);
  if (described === undefined) {
    return { missing: `Model "${job.model}" no longer exists for this tenant.` };
  }
  const stored = await deps.store.manifestOf(job.tenant, job.model, job.version);
  if (stored === undefined) {
    return {
      missing: `Model "${job.model}" version "${job.version}" is not in the registry (deleted, or never announced to monitoring).`,
    };
  }
  const validated = validateModelManifest(stored);
  if (!validated.ok) {
    return { missing: `The manifest of version "${job.version}" does not validate any more.` };
  }
  return { manifest: validated.manifest };
}

async function requested(job: Job, deps: JobDeps): Promise<StepResult | undefined> {
  const now = deps.nowMs();
  const settings = await deps.store.settings(job.tenant, job.model);
  if (settings.paused) {
    await deps.store.reschedule(job.tenant, job.requestId, now + 30_000, {});
    return undefined;
  }
  const ageMs = now - job.requestedAtMs;
  if (ageMs > deps.config.jobs.maxRequestAgeMs) {
    // E.g. a first start reading a topic's history: old drift is no reason to retrain now.
    return {
      to: "rejected",
      reason: `the request is ${Math.round(ageMs / 3_600_000)} h old, older than RETRAIN_MAX_REQUEST_AGE_MS; a policy opens a new request if the drift persists`,
      evidence: { requestedAt: new Date(job.requestedAtMs).toISOString(), ageMs },
      done: true,
    };
  }
  const champion = await championManifest(job, deps);
  if ("missing" in champion) return needsExternalTrainer(champion.missing, { model: job.model });
  const algorithm = champion.manifest.training?.algorithm;
  if (!isTrainableAlgorithm(algorithm)) {
    return needsExternalTrainer(
      `Version "${job.version}" was not trained by Driftline (manifest training.algorithm is ${algorithm === undefined ? "absent" : `"${algorithm}"`}; Driftline trains logistic-regression, mlp and gbt).`,
      { model: job.model, version: job.version, algorithm: algorithm ?? null },
    );
  }
  const driftStart = await deps.store.driftStartMs(
    job.tenant,
    job.model,
    job.version,
    job.requestedAtMs,
  );
  const sinceMs =
    driftStart === null ? null : driftStart - deps.config.trainingSet.sinceMsBeforeDrift;
  const state: Partial<JobState> = {
    cutoffMs: now,
    sinceMs,
    algorithm,
    championVersion: job.version,
  };
  return {
    to: "training",
    reason: `training a ${algorithm} candidate on settled predictions up to ${new Date(now).toISOString()}${sinceMs === null ? "" : ` since ${new Date(sinceMs).toISOString()} (drift began)`}`,
    evidence: {
      algorithm,
      cutoff: new Date(now).toISOString(),
      since: sinceMs === null ? null : new Date(sinceMs).toISOString(),
    },
    state,
    nextRunAtMs: now,
  };
}

async function training(job: Job, deps: JobDeps): Promise<StepResult | undefined> {
  const { cutoffMs, sinceMs = null, algorithm, championVersion = job.version } = job.state;
  if (cutoffMs === undefined || !isTrainableAlgorithm(algorithm)) {
    throw new DriftlineError("INTERNAL", "the training step has no frozen window; state was lost");
  }
  const champion = await championManifest(job, deps);
  if ("missing" in champion) return needsExternalTrainer(champion.missing, { model: job.model });
  const cfg = deps.config.trainingSet;
  const all = await deps.store.settledRows(job.tenant, job.model, cutoffMs, cfg.maxRows);
  const window = selectTrainingWindow(all, sinceMs, cfg.minRows);
  const t0 = performance.now();
  const outcome = retrainCandidate({
    champion: champion.manifest,
    championVersion,
    algorithm,
    rows: window.rows,
    trainingSet: {
      minRows: cfg.minRows,
      minPerClass: cfg.minPerClass,
      holdoutFraction: cfg.holdoutFraction,
    },
    gate: deps.config.gate,
    // A seed from the request, so a repeated training makes the same bytes.
    seed: seedOf(job.requestId),
    trainedAt: new Date(cutoffMs).toISOString(),
    graphName: `${job.model}-retrained`,
    provenance: { retrainingRequestId: job.requestId, retrainedFrom: championVersion },
  });
  const trainingMs = Math.round(performance.now() - t0);
  const windowEvidence = {
    window: window.window,
    since: sinceMs === null ? null : new Date(sinceMs).toISOString(),
  };
  if (outcome.kind === "insufficient") {
    return {
      to: "rejected",
      reason: `too few settled labels: ${outcome.reason}`,
      evidence: { counts: outcome.counts, ...windowEvidence },
      done: true,
    };
  }
  if (outcome.kind === "rejected") {
    return {
      to: "rejected",
      reason: outcome.reason,
      evidence: { counts: outcome.counts, gate: outcome.gate, trainingMs, ...windowEvidence },
      done: true,
    };
  }
  const candidateVersion = await nextVersion(job, deps);
  const onnxSha256 = await sha256Hex(outcome.onnx);
  return {
    to: "candidate",
    reason: outcome.reason,
    evidence: {
      counts: outcome.counts,
      gate: outcome.gate,
      algorithm,
      candidateVersion,
      trainingMs,
      ...windowEvidence,
    },
    state: { candidateVersion, candidateSha256: onnxSha256 },
    candidate: { onnx: outcome.onnx, manifest: outcome.manifest as Record<string, unknown> },
    nextRunAtMs: deps.nowMs(),
    alertVersion: candidateVersion,
  };
}

async function candidate(job: Job, deps: JobDeps): Promise<StepResult | undefined> {
  const { candidateVersion, candidateSha256, external = false } = job.state;
  if (
    candidateVersion === undefined ||
    (!external && (job.candidateOnnx === null || job.candidateManifest === null))
  ) {
    throw new DriftlineError("INTERNAL", "the candidate step has no stored candidate");
  }
  // A version trained elsewhere is already uploaded; one trained here is uploaded now.
  const uploaded =
    external || job.candidateOnnx === null || job.candidateManifest === null
      ? { outcome: "external" as const }
      : await deps.registry.upload(
          job.tenant,
          job.model,
          candidateVersion,
          job.candidateOnnx,
          job.candidateManifest,
        );
  const described = await deps.registry.describe(job.tenant, job.model);
  if (described === undefined) {
    return needsExternalTrainer(`Model "${job.model}" no longer exists for this tenant.`, {});
  }
  if (external && !described.versions.some((v) => v.version === candidateVersion)) {
    throw new DriftlineError(
      "NOT_FOUND",
      `Version "${candidateVersion}" named this request but is not in the model store.`,
    );
  }
  if (uploaded.outcome === "exists") {
    // A repeated step (the worker died after uploading): the stored bytes must be ours.
    const stored = described.versions.find((v) => v.version === candidateVersion);
    if (stored?.sha256 !== candidateSha256) {
      throw new DriftlineError(
        "CONFLICT",
        `Version "${candidateVersion}" of "${job.model}" already exists with other bytes; it was uploaded by someone else.`,
      );
    }
  }
  const champion = described.pointer?.champion ?? job.state.championVersion ?? job.version;
  const share = deps.config.rollout.challengerShare;
  await deps.registry.promote(job.tenant, job.model, {
    champion,
    challenger: { version: candidateVersion, share },
  });
  const now = deps.nowMs();
  return {
    to: "challenger",
    reason: `version ${candidateVersion} serves ${Math.round(share * 100)} % of the traffic next to champion ${champion}`,
    evidence: { champion, challenger: candidateVersion, share, uploaded: uploaded.outcome },
    state: { championVersion: champion, challengerSinceMs: now, share, pValue: 1 },
    nextRunAtMs: now + deps.config.jobs.decisionIntervalMs,
    alertVersion: candidateVersion,
  };
}

async function challenger(job: Job, deps: JobDeps): Promise<StepResult | undefined> {
  const { candidateVersion, championVersion, challengerSinceMs } = job.state;
  if (
    candidateVersion === undefined ||
    championVersion === undefined ||
    challengerSinceMs === undefined
  ) {
    throw new DriftlineError("INTERNAL", "the challenger step has no rollout state");
  }
  const now = deps.nowMs();
  const described = await deps.registry.describe(job.tenant, job.model);
  const pointer: RegistryPointer | null = described?.pointer ?? null;
  if (pointer?.champion === candidateVersion) {
    return finished(
      "promoted",
      `version ${candidateVersion} was promoted by hand`,
      { pointer },
      candidateVersion,
    );
  }
  if (pointer?.challenger?.version !== candidateVersion) {
    return finished(
      "rolled-back",
      `the challenger was removed from the traffic by hand`,
      { pointer },
      candidateVersion,
    );
  }
  if (job.command === "rollback") {
    await deps.registry.promote(job.tenant, job.model, { champion: pointer.champion });
    return finished(
      "rolled-back",
      "rolled back by an operator",
      { champion: pointer.champion },
      candidateVersion,
    );
  }
  const [championArm, challengerArm] = await deps.store.armOutcomes(
    job.tenant,
    job.model,
    [championVersion, candidateVersion],
    challengerSinceMs,
  );
  const decision = decideOnline({
    champion: championArm!,
    challenger: challengerArm!,
    elapsedMs: now - challengerSinceMs,
    previousPValue: job.state.pValue ?? 1,
    settings: deps.config.decision,
  });
  const look = {
    at: new Date(now).toISOString(),
    decision: decision.kind,
    reason: decision.reason,
    evidence: decision.evidence,
  };
  const pValue = decision.evidence.test.alwaysValidPValue;
  if (decision.kind === "continue") {
    await deps.store.reschedule(
      job.tenant,
      job.requestId,
      now + deps.config.jobs.decisionIntervalMs,
      {
        pValue,
        lastLook: look,
      },
    );
    return undefined;
  }
  const settings = await deps.store.settings(job.tenant, job.model);
  const approved = job.command === "approve";
  if (settings.approval === "manual" && !approved) {
    const first = job.state.pendingDecision === undefined;
    const reason = `${decision.kind === "promote" ? "promotion" : "roll-back"} recommended, waiting for approval: ${decision.reason}`;
    await deps.store.reschedule(
      job.tenant,
      job.requestId,
      now + deps.config.jobs.decisionIntervalMs,
      { pValue, lastLook: look, pendingDecision: { kind: decision.kind, reason: decision.reason } },
      undefined,
      first
        ? retrainingAlert({
            tenant: job.tenant,
            requestId: job.requestId,
            model: job.model,
            version: candidateVersion,
            step: "awaiting-approval",
            reason,
            evidence: decision.evidence as unknown as Record<string, unknown>,
            timeMs: now,
            source: deps.config.alerts.source,
          })
        : undefined,
      deps.config.alerts.operatorSinks,
    );
    return undefined;
  }
  const evidence = {
    ...(decision.evidence as unknown as Record<string, unknown>),
    approvedBy: approved ? "operator" : "auto",
  };
  if (decision.kind === "promote") {
    await deps.registry.promote(job.tenant, job.model, { champion: candidateVersion });
    return finished("promoted", decision.reason, evidence, candidateVersion);
  }
  await deps.registry.promote(job.tenant, job.model, { champion: pointer.champion });
  return finished("rolled-back", decision.reason, evidence, candidateVersion);
}

function finished(
  to: RetrainingStatus,
  reason: string,
  evidence: Record<string, unknown>,
  version: string,
): StepResult {
  return { to, reason, evidence, done: true, alertVersion: version };
}

/** The candidate's version: one above the highest numeric version known, else `<version>-r1`. */
async function nextVersion(job: Job, deps: JobDeps): Promise<string> {
  const described = await deps.registry.describe(job.tenant, job.model);
  const known = new Set([
    ...(described?.versions.map((v) => v.version) ?? []),
    ...(await deps.store.versionsOf(job.tenant, job.model)),
  ]);
  const numeric = [...known].filter((v) => /^\d{1,9}$/.test(v)).map(Number);
  if (numeric.length > 0) return String(Math.max(...numeric) + 1);
  let n = 1;
  while (known.has(`${job.version}-r${n}`)) n += 1;
  return `${job.version}-r${n}`;
}

function seedOf(requestId: string): number {
  let h = 2166136261;
  for (let i = 0; i < requestId.length; i++) h = Math.imul(h ^ requestId.charCodeAt(i), 16777619);
  return h >>> 0;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
