/** The Clock port on the process clock and timers. */
import { setTimeout as sleep } from "node:timers/promises";
import type { Clock } from "./clock";

export const systemClock: Clock = {
  nowMs: () => Date.now(),
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await sleep(ms, undefined, signal === undefined ? undefined : { signal });
    } catch (error) {
      if ((error as { name?: string }).name !== "AbortError") throw error;
    }
  },
};
