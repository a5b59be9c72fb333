/** Sums a V8 CPU profile (`.cpuprofile`) by function: self and total time, idle left out. */

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Self and total µs per function name (per request), and the isolate's busy µs per request. */
export function summarise(profile: CpuProfile, requests: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = (n: ProfileNode) => n.callFrame.functionName || "(anonymous)";
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    // A sample's weight is the time until the next one (V8 records the delta before each).
    const us = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node || label(node) === "(idle)") return;
    busyUs += us;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (name === "(root)" || seen.has(name)) continue;
      seen.add(name);
      total.set(name, (total.get(name) ?? 0) + us);
    }
  });
  const perRequest = (m: Map<string, number>) =>
    [...m].map(([name, us]) => [name, us / requests] as const).sort((a, b) => b[1] - a[1]);
  return { busyUs: busyUs / requests, self: perRequest(self), total: perRequest(total) };
}
