/**
 * `driftline tenants delete` and `driftline erase`: deleting a tenant and erasing one person, on
 * the functions of `npm run tenants:delete` and `npm run erase` (docs/privacy.md).
 */
import type { Command } from "commander";
import type { CliContext } from "./cli-context";

const STORES_HELP = `
Stores: Postgres (DATABASE_URL; default the local stack's database), Upstash Redis
(UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN) and R2 (R2_S3_ENDPOINT, R2_ACCESS_KEY_ID,
R2_SECRET_ACCESS_KEY; default the local stack's). See docs/privacy.md.`;

export function registerPrivacyCommands(program: Command, _context: CliContext): void {
  const tenants = program.command("tenants").description("delete a tenant and all its data");
  tenants
    .command("delete")
    .description(
      "delete every row, key and object of a tenant (its audit entries are kept); without --yes, count only",
    )
    .requiredOption("--tenant <id>", "the tenant to delete")
    .option("--yes", "delete; without it nothing changes and the counts are printed", false)
    .addHelpText("after", STORES_HELP)
    .action(async (flags: { tenant: string; yes: boolean }) => {
      const { tenantIssues } = await import("../keys-common");
      const { ValidationError } = await import("#core/errors");
      const issues = tenantIssues(flags.tenant);
      if (issues.length > 0) {
        throw new ValidationError(`${issues[0]!.field} ${issues[0]!.message}`, issues);
      }
      const { runTenantDeletion } = await import("../tenants-delete");
      await runTenantDeletion(flags.tenant, flags.yes);
    });

  program
    .command("erase")
    .description(
      "erase one person of a tenant by email, phone, external id or entity id (hashed as ingest hashes them), with a report",
    )
    .requiredOption("--tenant <id>", "the person's tenant")
    .option("--email <email>", "an email address (- reads it from standard input)")
    .option("--phone <phone>", "a phone number (- reads it from standard input)")
    .option("--external-id <id>", "the external id sent as user_data.external_id")
    .option("--entity-id <id>", "the entity id scores were requested with, when it differs")
    .addHelpText("after", STORES_HELP)
    .action(
      async (flags: {
        tenant: string;
        email?: string;
        phone?: string;
        externalId?: string;
        entityId?: string;
      }) => {
        const { runErasure } = await import("../erase");
        const { tenant, ...given } = flags;
        await runErasure(tenant, given);
      },
    );
}
