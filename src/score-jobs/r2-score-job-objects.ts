/** ScoreJobObjects on an R2 bucket: `jobs/<tenant>/<job>/input/<chunk>` and `…/results/<chunk>`. */
import { DependencyUnavailableError } from "#core/errors";
import type { ScoreJobObjects } from "./score-job-store";

const pad = (chunk: number) => String(chunk).padStart(6, "0");
const prefix = (tenant: string, jobId: string) => `jobs/${encodeURIComponent(tenant)}/${jobId}/`;

export class R2ScoreJobObjects implements ScoreJobObjects {
  constructor(private readonly bucket: R2Bucket) {}

  async putInput(tenant: string, jobId: string, chunk: number, text: string): Promise<void> {
    await this.put(`${prefix(tenant, jobId)}input/${pad(chunk)}`, text);
  }

  async getInput(tenant: string, jobId: string, chunk: number): Promise<string | undefined> {
    const object = await this.get(`${prefix(tenant, jobId)}input/${pad(chunk)}`);
    return object === null ? undefined : object.text();
  }

  async putResults(tenant: string, jobId: string, chunk: number, ndjson: string): Promise<void> {
    await this.put(`${prefix(tenant, jobId)}results/${pad(chunk)}`, ndjson);
  }

  async getResults(
    tenant: string,
    jobId: string,
    chunk: number,
  ): Promise<ReadableStream<Uint8Array> | undefined> {
    const object = await this.get(`${prefix(tenant, jobId)}results/${pad(chunk)}`);
    return object === null ? undefined : object.body;
  }

  async deleteJob(tenant: string, jobId: string): Promise<number> {
    // Listed rather than derived from the chunk count: whatever was written under the prefix goes.
    // A list page holds at most 1000 keys, and R2 deletes at most 1000 keys per call.
    const jobPrefix = prefix(tenant, jobId);
    let removed = 0;
    let cursor: string | undefined;
    try {
      do {
        const page = await this.bucket.list({
          prefix: jobPrefix,
          limit: 1000,
          ...(cursor === undefined ? {} : { cursor }),
        });
        const keys = page.objects.map((o) => o.key);
        if (keys.length > 0) await this.bucket.delete(keys);
        removed += keys.length;
        cursor = page.truncated ? page.cursor : undefined;
      } while (cursor !== undefined);
    } catch (error) {
      throw unavailable(error);
    }
    return removed;
  }

  private async put(key: string, text: string): Promise<void> {
    try {
      await this.bucket.put(key, text);
    } catch (error) {
      throw unavailable(error);
    }
  }

  private async get(key: string): Promise<R2ObjectBody | null> {
    try {
      return await this.bucket.get(key);
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function unavailable(error: unknown): DependencyUnavailableError {
  return new DependencyUnavailableError(
    `The score job bucket (JOBS) is unavailable (${error instanceof Error ? error.message : String(error)}); retry.`,
    { cause: error },
  );
}
