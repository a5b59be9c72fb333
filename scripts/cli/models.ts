/**
 * `driftline models upload|promote|rollback|list`: model admin through the Worker's API with an
 * admin key (PUT /v1/models/{name}/versions/{version}, POST /v1/models/{name}/promote, GET /v1/models).
 */
import { readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Command } from "commander";
import { z } from "zod";
import { IDENTIFIER_RULE, isIdentifier } from "#core/scoring";
import type { CliContext } from "./cli-context";
import { UsageError } from "./exit-codes";
import { callWorker, type WorkerTarget, withWorkerOptions, workerTarget } from "./worker-api";

const PointerSchema = z.object({
  champion: z.string(),
  challenger: z.object({ version: z.string(), share: z.number() }).optional(),
  promotedAt: z.string().optional(),
});
const ActiveSchema = z.object({ pointer: PointerSchema, isDefault: z.boolean() }).nullable();
const VersionSchema = z.object({
  version: z.string(),
  source: z.string(),
  uploadedAt: z.string(),
  sizeBytes: z.number(),
  sha256: z.string(),
  features: z.number(),
});
export const ModelDetailSchema = z.object({
  name: z.string(),
  versions: z.array(VersionSchema),
  active: ActiveSchema,
});
export type ModelDetail = z.infer<typeof ModelDetailSchema>;
const ModelListSchema = z.object({
  models: z.array(z.object({ name: z.string(), active: ActiveSchema })),
});
const UploadAnswerSchema = z.object({
  model: z.string(),
  version: VersionSchema,
  warnings: z.array(z.string()).optional(),
});
const PromoteAnswerSchema = z.object({ model: z.string(), active: PointerSchema });

type WorkerFlags = { url?: string; key?: string };

function identifier(what: string, value: string): string {
  if (!isIdentifier(value)) throw new UsageError(`${what} "${value}" must be ${IDENTIFIER_RULE}`);
  return value;
}

const modelPath = (name: string) => `/v1/models/${encodeURIComponent(name)}`;

function describePointer(pointer: z.infer<typeof PointerSchema>): string {
  const challenger = pointer.challenger
    ? `, challenger ${pointer.challenger.version} (${pointer.challenger.share * 100}% of traffic)`
    : "";
  return `champion ${pointer.champion}${challenger}`;
}

/** The files of an upload: `--dir` (model.onnx + manifest.json) or `--model` and `--manifest`. */
async function uploadFiles(flags: {
  dir?: string;
  model?: string;
  manifest?: string;
}): Promise<{ model: string; manifest: string }> {
  const model = flags.model ?? (flags.dir ? join(flags.dir, "model.onnx") : undefined);
  const manifest = flags.manifest ?? (flags.dir ? join(flags.dir, "manifest.json") : undefined);
  if (model === undefined || manifest === undefined) {
    throw new UsageError(
      "give --dir <folder with model.onnx and manifest.json>, or --model and --manifest",
    );
  }
  for (const [flag, file] of [
    ["--model", model],
    ["--manifest", manifest],
  ] as const) {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new UsageError(`${flag}: ${file} is not a readable file`);
  }
  return { model, manifest };
}

/**
 * The version a roll back returns to: `to` when given, else the newest version uploaded before the
 * current champion. Undefined when there is none.
 */
export function rollbackTarget(detail: ModelDetail, to?: string): string | undefined {
  if (to !== undefined) return detail.versions.some((v) => v.version === to) ? to : undefined;
  const champion = detail.active?.pointer.champion;
  const current = detail.versions.find((v) => v.version === champion);
  if (current === undefined) return undefined;
  return detail.versions
    .filter((v) => Date.parse(v.uploadedAt) < Date.parse(current.uploadedAt))
    .sort((a, b) => Date.parse(b.uploadedAt) - Date.parse(a.uploadedAt))[0]?.version;
}

async function promote(
  target: WorkerTarget,
  name: string,
  body: { version: string; challenger?: { version: string; share: number } },
) {
  return callWorker(
    target,
    { method: "POST", path: `${modelPath(name)}/promote`, json: body },
    PromoteAnswerSchema,
  );
}

export function registerModelsCommands(program: Command, _context: CliContext): void {
  const models = program
    .command("models")
    .description("upload, promote, roll back and list models through the Worker's admin API")
    .addHelpText(
      "after",
      "\nThe Worker's URL and an admin key come from --url/--key or DRIFTLINE_URL/DRIFTLINE_KEY.",
    );

  withWorkerOptions(models.command("list"), "read")
    .description("the tenant's models and the version each serves, or one model's versions")
    .argument("[name]", "a model: list its versions")
    .option("--json", "print the API's answer as JSON", false)
    .action(async (name: string | undefined, flags: WorkerFlags & { json: boolean }) => {
      const target = workerTarget(flags);
      if (name === undefined) {
        const answer = await callWorker(
          target,
          { method: "GET", path: "/v1/models" },
          ModelListSchema,
        );
        if (flags.json) return void console.log(JSON.stringify(answer));
        for (const m of answer.models) {
          const active = m.active ? describePointer(m.active.pointer) : "nothing promoted";
          console.log(`${m.name}  ${active}${m.active?.isDefault ? " (bundled default)" : ""}`);
        }
        return;
      }
      const detail = await callWorker(
        target,
        { method: "GET", path: modelPath(identifier("model name", name)) },
        ModelDetailSchema,
      );
      if (flags.json) return void console.log(JSON.stringify(detail));
      console.log(
        `${detail.name}: ${detail.active ? describePointer(detail.active.pointer) : "nothing promoted"}`,
      );
      for (const v of detail.versions) {
        console.log(
          `  ${v.version}  ${v.source}  uploaded ${v.uploadedAt}  ${v.sizeBytes} bytes  ${v.features} features  sha256 ${v.sha256.slice(0, 12)}…`,
        );
      }
    });

  withWorkerOptions(models.command("upload"), "admin")
    .description("upload an ONNX model and its manifest as a new version (it serves once promoted)")
    .argument("<name>", `model name (${IDENTIFIER_RULE})`)
    .argument("<version>", `version (${IDENTIFIER_RULE})`)
    .option("--dir <folder>", "a folder holding model.onnx and manifest.json")
    .option("--model <file>", "the .onnx file")
    .option("--manifest <file>", "the manifest JSON file")
    .option("--json", "print the API's answer as JSON", false)
    .action(
      async (
        name: string,
        version: string,
        flags: WorkerFlags & { dir?: string; model?: string; manifest?: string; json: boolean },
      ) => {
        identifier("model name", name);
        identifier("version", version);
        const files = await uploadFiles(flags);
        const target = workerTarget(flags);
        const form = new FormData();
        form.set("model", new Blob([await readFile(files.model)]), basename(files.model));
        form.set(
          "manifest",
          new Blob([await readFile(files.manifest)], { type: "application/json" }),
          basename(files.manifest),
        );
        const answer = await callWorker(
          target,
          {
            method: "PUT",
            path: `${modelPath(name)}/versions/${encodeURIComponent(version)}`,
            form,
          },
          UploadAnswerSchema,
        );
        if (flags.json) return void console.log(JSON.stringify(answer));
        console.log(
          `Uploaded ${answer.model} version ${answer.version.version} (${answer.version.sizeBytes} bytes, ${answer.version.features} features, sha256 ${answer.version.sha256}). Promote it to serve: driftline models promote ${name} ${version}`,
        );
        for (const warning of answer.warnings ?? []) console.error(`warning: ${warning}`);
      },
    );

  withWorkerOptions(models.command("promote"), "admin")
    .description(
      "make a version the champion, optionally with a challenger taking a share of traffic",
    )
    .argument("<name>", "model name")
    .argument("<version>", "the version to make champion")
    .option(
      "--challenger <version>",
      "a version scoring --share of the traffic beside the champion",
    )
    .option("--share <fraction>", "the challenger's share of traffic, 0 < share < 1")
    .option("--json", "print the API's answer as JSON", false)
    .action(
      async (
        name: string,
        version: string,
        flags: WorkerFlags & { challenger?: string; share?: string; json: boolean },
      ) => {
        identifier("model name", name);
        identifier("version", version);
        if ((flags.challenger === undefined) !== (flags.share === undefined)) {
          throw new UsageError("--challenger and --share go together");
        }
        let challenger: { version: string; share: number } | undefined;
        if (flags.challenger !== undefined) {
          const share = Number(flags.share);
          if (!(share > 0 && share < 1))
            throw new UsageError(`--share must be a number between 0 and 1, not "${flags.share}"`);
          challenger = { version: identifier("--challenger", flags.challenger), share };
        }
        const answer = await promote(workerTarget(flags), name, {
          version,
          ...(challenger ? { challenger } : {}),
        });
        if (flags.json) return void console.log(JSON.stringify(answer));
        console.log(`${answer.model}: ${describePointer(answer.active)}.`);
      },
    );

  withWorkerOptions(models.command("rollback"), "admin")
    .description(
      "make the version before the current champion the champion again (drops a challenger)",
    )
    .argument("<name>", "model name")
    .option(
      "--to <version>",
      "the version to return to (default: the one uploaded before the champion)",
    )
    .option("--json", "print the API's answer as JSON", false)
    .action(async (name: string, flags: WorkerFlags & { to?: string; json: boolean }) => {
      identifier("model name", name);
      if (flags.to !== undefined) identifier("--to", flags.to);
      const target = workerTarget(flags);
      const detail = await callWorker(
        target,
        { method: "GET", path: modelPath(name) },
        ModelDetailSchema,
      );
      const version = rollbackTarget(detail, flags.to);
      if (version === undefined) {
        throw new Error(
          flags.to === undefined
            ? `${name} has no version uploaded before its champion ${detail.active?.pointer.champion ?? "(none)"}; name one with --to`
            : `${name} has no version ${flags.to}`,
        );
      }
      const answer = await promote(target, name, { version });
      if (flags.json) return void console.log(JSON.stringify(answer));
      console.log(`${answer.model}: rolled back to ${describePointer(answer.active)}.`);
    });
}
