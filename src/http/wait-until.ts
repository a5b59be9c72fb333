/** Work that may finish after the response. */

/** Schedules work that may finish after the response (`ctx.waitUntil` in workerd). */
export type WaitUntil = (promise: Promise<unknown>) => void;
