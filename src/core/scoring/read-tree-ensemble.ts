/** Reads ai.onnx.ml TreeEnsembleClassifier / TreeEnsembleRegressor nodes into a TreeEnsembleModel. */
import { LEAF, type ScoreLink, TREE_MODES, type TreeEnsembleModel } from "./direct-model.ts";
import {
  classLabelCount,
  columnsOf,
  fail,
  floatsAttr,
  type Input,
  intAttr,
  pureColumn,
  type Sym,
  stringAttr,
  Unrecognised,
} from "./graph-symbols.ts";
import type { OnnxNode } from "./onnx-graph-reader.ts";

interface TreeTables {
  ids: number[];
  nodeIds: number[];
  features: number[];
  thresholds: number[];
  modes: string[];
  trueIds: number[];
  falseIds: number[];
  leafTrees: number[];
  leafNodes: number[];
  leafTargets: number[];
  leafWeights: number[];
  base: number[];
}

function treeTables(node: OnnxNode, kind: "regressor" | "classifier"): TreeTables {
  const ints = (name: string) => node.attributes.get(name)?.ints ?? [];
  const leaf = kind === "classifier" ? "class" : "target";
  const t: TreeTables = {
    ids: ints("nodes_treeids"),
    nodeIds: ints("nodes_nodeids"),
    features: ints("nodes_featureids"),
    thresholds: floatsAttr(node, "nodes_values"),
    modes: node.attributes.get("nodes_modes")?.strings ?? [],
    trueIds: ints("nodes_truenodeids"),
    falseIds: ints("nodes_falsenodeids"),
    leafTrees: ints(`${leaf}_treeids`),
    leafNodes: ints(`${leaf}_nodeids`),
    leafTargets: ints(`${leaf}_ids`),
    leafWeights: floatsAttr(node, `${leaf}_weights`),
    base: floatsAttr(node, "base_values"),
  };
  const n = t.ids.length;
  for (const [name, list] of [
    ["nodes_nodeids", t.nodeIds],
    ["nodes_featureids", t.features],
    ["nodes_values", t.thresholds],
    ["nodes_modes", t.modes],
    ["nodes_truenodeids", t.trueIds],
    ["nodes_falsenodeids", t.falseIds],
  ] as const) {
    if (list.length !== n)
      fail(`${node.opType}'s ${name} has ${list.length} entries for ${n} nodes`);
  }
  const leaves = t.leafTrees.length;
  if (
    t.leafNodes.length !== leaves ||
    t.leafTargets.length !== leaves ||
    t.leafWeights.length !== leaves
  ) {
    fail(`${node.opType}'s ${leaf} attributes differ in length`);
  }
  return t;
}

/** The ensemble's margin for output column `index`: leaf weights per (tree, node) and a base. */
type ColumnPlan = { weight: (target: number, w: number) => number; base: number; link: ScoreLink };

export function treeEnsemble(node: OnnxNode, a: Input, kind: "regressor" | "classifier"): Sym {
  const x = columnsOf(a, `${node.opType}'s input`);
  const inputColumns = x.cols.map(
    (col) => pureColumn(col) ?? fail(`${node.opType} reads a computed value`),
  );
  const t = treeTables(node, kind);
  const transform = stringAttr(node, "post_transform", "NONE");
  const aggregate = stringAttr(node, "aggregate_function", "SUM");
  if (aggregate !== "SUM" && aggregate !== "AVERAGE")
    fail(`${node.opType} aggregates with ${aggregate}`);
  const treeCount = new Set(t.ids).size;
  const perTree = aggregate === "AVERAGE" ? 1 / treeCount : 1;

  let width: number;
  let plan: (index: number) => ColumnPlan;
  if (kind === "regressor") {
    width = intAttr(node, "n_targets", 1);
    if (transform !== "NONE") fail(`TreeEnsembleRegressor with post_transform ${transform}`);
    plan = (index) => ({
      weight: (target, w) => (target === index ? w * perTree : 0),
      base: t.base[index] ?? 0,
      link: "identity",
    });
  } else {
    const labels = classLabelCount(node);
    const targets = new Set(t.leafTargets);
    width = labels;
    if (labels === 2 && targets.size === 1 && targets.has(0) && t.base.length <= 1) {
      // One weight column for two classes: the runtime scores [σ(−s), σ(s)] (LOGISTIC) or
      // [−s, s] (NONE) when weights have both signs; with only non-negative weights it uses
      // another convention, left to onnxruntime.
      if (t.leafWeights.every((w) => w >= 0))
        fail("binary TreeEnsembleClassifier with non-negative weights");
      if (transform !== "NONE" && transform !== "LOGISTIC") fail(`post_transform ${transform}`);
      const link: ScoreLink = transform === "LOGISTIC" ? "logistic" : "identity";
      plan = (index) => {
        const sign = index === 1 ? 1 : -1;
        return { weight: (_target, w) => sign * w, base: sign * (t.base[0] ?? 0), link };
      };
    } else if (transform === "NONE" || transform === "LOGISTIC") {
      const link: ScoreLink = transform === "LOGISTIC" ? "logistic" : "identity";
      plan = (index) => ({
        weight: (target, w) => (target === index ? w : 0),
        base: t.base[index] ?? 0,
        link,
      });
    } else if (transform === "SOFTMAX" && labels === 2) {
      plan = (index) => {
        const sign = index === 1 ? 1 : -1;
        return {
          weight: (target, w) => (target === 1 ? sign * w : target === 0 ? -sign * w : 0),
          base: sign * ((t.base[1] ?? 0) - (t.base[0] ?? 0)),
          link: "logistic",
        };
      };
    } else {
      return fail(`TreeEnsembleClassifier with post_transform ${transform} over ${labels} classes`);
    }
  }
  return {
    kind: "trees",
    rank: 2,
    width,
    column: (index) => {
      try {
        return { ok: true, model: buildTrees(t, inputColumns, plan(index)) };
      } catch (err) {
        if (err instanceof Unrecognised) return { ok: false, reason: err.message };
        throw err;
      }
    },
  };
}

function buildTrees(t: TreeTables, inputColumns: number[], plan: ColumnPlan): TreeEnsembleModel {
  const n = t.ids.length;
  const key = (tree: number, id: number) => `${tree}:${id}`;
  const index = new Map<string, number>();
  const roots: number[] = [];
  for (let i = 0; i < n; i++) {
    // The first node listed for a tree is its root, as the runtime takes it.
    if (i === 0 || t.ids[i] !== t.ids[i - 1]) {
      if (roots.some((r) => t.ids[r] === t.ids[i])) fail("a tree's nodes are not listed together");
      roots.push(i);
    }
    index.set(key(t.ids[i]!, t.nodeIds[i]!), i);
  }
  const feature = new Int32Array(n);
  const threshold = new Float64Array(n);
  const mode = new Uint8Array(n);
  const yes = new Int32Array(n);
  const no = new Int32Array(n);
  const value = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const m = TREE_MODES.indexOf(t.modes[i] as (typeof TREE_MODES)[number]);
    if (m < 0) fail(`tree node mode ${t.modes[i]}`);
    mode[i] = m;
    if (m === LEAF) continue;
    const column = inputColumns[t.features[i]!];
    if (column === undefined) fail(`a tree splits on feature ${t.features[i]}, outside the input`);
    feature[i] = column;
    threshold[i] = Math.fround(t.thresholds[i]!);
    const child = (id: number) =>
      index.get(key(t.ids[i]!, id)) ?? fail(`tree ${t.ids[i]} has no node ${id}`);
    yes[i] = child(t.trueIds[i]!);
    no[i] = child(t.falseIds[i]!);
  }
  for (let j = 0; j < t.leafTrees.length; j++) {
    const i = index.get(key(t.leafTrees[j]!, t.leafNodes[j]!));
    if (i === undefined) fail(`a leaf weight names a node that does not exist`);
    value[i] = value[i]! + plan.weight(t.leafTargets[j]!, t.leafWeights[j]!);
  }
  let depth = 0;
  for (const root of roots) depth = Math.max(depth, treeDepth(root, mode, yes, no, n));
  return {
    kind: "trees",
    link: plan.link,
    columns: Math.max(0, ...inputColumns) + 1,
    base: plan.base,
    roots: Int32Array.from(roots),
    feature,
    threshold,
    mode,
    yes,
    no,
    value,
    depth,
  };
}

/** Longest path below `root`; a cycle (depth beyond the node count) is refused. */
function treeDepth(
  root: number,
  mode: Uint8Array,
  yes: Int32Array,
  no: Int32Array,
  n: number,
): number {
  let deepest = 0;
  const stack: [number, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > n) fail("a tree has a cycle");
    if (mode[node] === LEAF) {
      deepest = Math.max(deepest, depth);
      continue;
    }
    stack.push([yes[node]!, depth + 1], [no[node]!, depth + 1]);
  }
  return deepest;
}
