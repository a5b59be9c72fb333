/** A V8 CPU profile of one Worker's isolate, taken through workerd's inspector. */

/**
 * Starts V8's sampling profiler in one Worker's isolate through workerd's inspector (Chrome
 * DevTools protocol over WebSocket); `stop()` returns the profile (`.cpuprofile` JSON).
 */
export async function startWorkerProfile(port: number, worker: string) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as {
    id: string;
    webSocketDebuggerUrl?: string;
  }[];
  const target = targets.find((t) => t.id.includes(worker)) ?? targets[0];
  const url = target?.webSocketDebuggerUrl ?? `ws://127.0.0.1:${port}/${worker}`;
  const socket = new WebSocket(url);
  await new Promise((ok, fail) => {
    socket.addEventListener("open", ok, { once: true });
    socket.addEventListener("error", () => fail(new Error(`no inspector at ${url}`)), {
      once: true,
    });
  });
  let nextId = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.addEventListener("message", (event) => {
    const reply = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (reply.id !== undefined) pending.get(reply.id)?.(reply.result);
  });
  const call = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<unknown>((ok) => {
      const id = ++nextId;
      pending.set(id, ok);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 100 });
  await call("Profiler.start");
  return {
    async stop(): Promise<unknown> {
      const result = (await call("Profiler.stop")) as { profile: unknown };
      socket.close();
      return result.profile;
    },
  };
}
