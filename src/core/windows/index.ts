/** Event-time windows: tumbling-window arithmetic, the watermark, window aggregation and summaries, exact money in micros. */
export * from "./aggregate-windows.ts";
export * from "./summarize-windows.ts";
export * from "./value-micros.ts";
export * from "./watermark.ts";
export * from "./window-start-ms.ts";
