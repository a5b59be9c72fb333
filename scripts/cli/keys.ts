/**
 * `driftline keys create|list|revoke|rotate`: the API key commands of `npm run keys:*`, on the same
 * functions (checks, stores, audit log, output).
 */
import type { Command } from "commander";
import { ROLES } from "#core/api-keys";
import type { FieldIssue } from "#core/errors";
import { IDENTIFIER_RULE } from "#core/scoring";
import type { CliContext } from "./cli-context";
import { UsageError } from "./exit-codes";

const STORES_HELP = `
Stores: Upstash Redis (UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN; default the local
stack's) and Postgres (DATABASE_URL; default the local stack's database when it answers).
Keys are stored only as SHA-256 hashes, and every change is written to the audit log.`;

/** Repeatable option values, each possibly comma-separated. */
const collect = (value: string, previous: string[]) => [...previous, value];

/** One usage error naming every bad argument, on one line. */
function throwIfIssues(issues: readonly FieldIssue[]): void {
  if (issues.length === 0) return;
  throw new UsageError(issues.map((i) => `${i.field} ${i.message}`).join("; "));
}

// The key modules (Redis and Postgres clients) load when a keys command runs, not for --help.
const keysCommon = () => import("../keys-common");

export function registerKeysCommands(program: Command, _context: CliContext): void {
  const keys = program
    .command("keys")
    .description("create, list, revoke and rotate a tenant's API keys")
    .addHelpText("after", STORES_HELP);

  keys
    .command("create")
    .description("create an API key and print it once (the key alone on stdout)")
    .requiredOption("--tenant <id>", `tenant id (${IDENTIFIER_RULE})`)
    .requiredOption("--roles <roles>", `comma-separated: ${ROLES.join(", ")}`)
    .option(
      "--origins <origins>",
      "browser origins allowed to send events (CORS), comma-separated or repeated; makes a publishable ingest-only key",
      collect,
      [],
    )
    .option("--name <label>", "a label for the key, shown by keys list")
    .option("--rate-limit <n/window>", "the key's own request limit, e.g. 600/min, 100000/1h")
    .option("--json", "print { key, keyId, tenant, roles, origins } as JSON", false)
    .action(
      async (flags: {
        tenant: string;
        roles: string;
        origins: string[];
        name?: string;
        rateLimit?: string;
        json: boolean;
      }) => {
        const { keyStoresFromEnv } = await keysCommon();
        const { checkCreateKeyInput, runCreateKey } = await import("../keys-create");
        const checked = checkCreateKeyInput(flags.tenant, {
          roles: flags.roles,
          origins: flags.origins,
          ...(flags.name === undefined ? {} : { name: flags.name }),
          ...(flags.rateLimit === undefined ? {} : { rateLimit: flags.rateLimit }),
        });
        throwIfIssues(checked.issues);
        await runCreateKey({
          ...checked.options,
          json: flags.json,
          ...keyStoresFromEnv(process.env),
        });
      },
    );

  keys
    .command("list")
    .description("list a tenant's keys (id, roles, name, created, revoked); never a key or hash")
    .requiredOption("--tenant <id>", `tenant id (${IDENTIFIER_RULE})`)
    .option("--json", "print a JSON array instead of a table", false)
    .action(async (flags: { tenant: string; json: boolean }) => {
      const { keyStoresFromEnv, tenantIssues } = await keysCommon();
      const { runListKeys } = await import("../keys-list");
      throwIfIssues(tenantIssues(flags.tenant));
      await runListKeys({
        tenant: flags.tenant,
        json: flags.json,
        ...keyStoresFromEnv(process.env),
      });
    });

  keys
    .command("revoke")
    .description("revoke a key in Upstash Redis and Postgres (running it again changes nothing)")
    .requiredOption(
      "--tenant <id>",
      `tenant id (${IDENTIFIER_RULE}); another tenant's key is refused`,
    )
    .option("--key-id <id>", "the key's id (key_…), as keys create and keys list print it")
    .option("--key <key>", 'the key itself (dl_…); "-" reads it from standard input')
    .option("--redis-only", "revoke in Upstash Redis alone, when there is no database", false)
    .action(async (flags: { tenant: string; keyId?: string; key?: string; redisOnly: boolean }) => {
      const { keyStoresFromEnv } = await keysCommon();
      const { checkRevokeKeyInput, runRevokeKey } = await import("../keys-revoke");
      const checked = checkRevokeKeyInput(flags.tenant, {
        ...(flags.keyId === undefined ? {} : { keyId: flags.keyId }),
        ...(flags.key === undefined ? {} : { key: flags.key }),
        redisOnly: flags.redisOnly,
      });
      throwIfIssues(checked.issues);
      await runRevokeKey({ ...checked.options, ...keyStoresFromEnv(process.env) });
    });

  keys
    .command("rotate")
    .description("issue a new key in place of an old one, which keeps working for a grace period")
    .requiredOption(
      "--tenant <id>",
      `tenant id (${IDENTIFIER_RULE}); another tenant's key is refused`,
    )
    .requiredOption("--key-id <id>", "the key to replace (key_…)")
    .option(
      "--grace <duration>",
      "how long the old key keeps working: 0, 90s, 30m, 24h, 7d (at most 30d)",
      "24h",
    )
    .option("--json", "print { key, keyId, rotatedFrom, previousKeyExpiresAt } as JSON", false)
    .action(async (flags: { tenant: string; keyId: string; grace: string; json: boolean }) => {
      const { keyStoresFromEnv } = await keysCommon();
      const { checkRotateKeyInput, runRotateKey } = await import("../keys-rotate");
      const checked = checkRotateKeyInput(flags.tenant, { keyId: flags.keyId, grace: flags.grace });
      throwIfIssues(checked.issues);
      await runRotateKey({
        ...checked.options,
        json: flags.json,
        ...keyStoresFromEnv(process.env),
      });
    });
}
