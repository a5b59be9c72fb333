/** ScoreJobQueue on a Cloudflare Queue: one message per chunk, sent 100 per call (the Queues limit). */
import { DependencyUnavailableError } from "#core/errors";
import type { ScoreJobMessage } from "#core/score-jobs";
import type { ScoreJobQueue } from "./score-job-store";

const MESSAGES_PER_CALL = 100;

export class QueueScoreJobQueue implements ScoreJobQueue {
  constructor(private readonly queue: Queue<ScoreJobMessage>) {}

  async sendChunks(
    chunks: readonly { tenant: string; jobId: string; chunk: number }[],
  ): Promise<void> {
    try {
      for (let i = 0; i < chunks.length; i += MESSAGES_PER_CALL) {
        await this.queue.sendBatch(
          chunks.slice(i, i + MESSAGES_PER_CALL).map((c) => ({
            body: { kind: "score-job-chunk", ...c } satisfies ScoreJobMessage,
            contentType: "json",
          })),
        );
      }
    } catch (error) {
      throw new DependencyUnavailableError(
        `The score job queue refused the job's chunks (${error instanceof Error ? error.message : String(error)}); retry.`,
        { cause: error },
      );
    }
  }
}
