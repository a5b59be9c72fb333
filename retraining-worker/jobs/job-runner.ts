/** Runs due retraining jobs one at a time: claims one under a lease, runs its step, looks again. */
import type { Logger } from "pino";
import type { RetrainingStore } from "../db/retraining-store";
import { adoptExternalUploads, type JobDeps, runJob } from "./run-job";

export class JobRunner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private again = false;

  constructor(
    private readonly deps: JobDeps & { store: RetrainingStore; log: Logger },
    private readonly workerId: string,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Looks for due jobs now (after a request was consumed or an operator acted). */
  wake(): void {
    if (this.stopping) return;
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  /** Waits for the step in hand to end; nothing new starts. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (this.stopping) return;
        const now = this.again;
        this.again = false;
        this.schedule(now ? 0 : this.deps.config.jobs.pollIntervalMs);
      });
    }, delayMs);
  }

  private async drain(): Promise<void> {
    try {
      await adoptExternalUploads(this.deps);
    } catch (error) {
      this.deps.log.warn({ err: error }, "cannot look for externally trained uploads");
    }
    while (!this.stopping) {
      let job: Awaited<ReturnType<RetrainingStore["claimDueJob"]>>;
      try {
        job = await this.deps.store.claimDueJob(
          this.workerId,
          this.deps.config.jobs.leaseMs,
          this.deps.nowMs(),
        );
      } catch (error) {
        this.deps.log.warn({ err: error }, "cannot read retraining jobs; trying again");
        return;
      }
      if (job === undefined) return;
      await runJob(job, this.deps);
    }
  }
}
