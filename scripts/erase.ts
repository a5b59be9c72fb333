/**
 * `npm run erase -- --tenant <id> [--email …] [--phone …] [--external-id …] [--entity-id …]`:
 * erases one person of one tenant: the rows Postgres links to them and their records in parked
 * dead-letter bundles, with an audit entry that names no identifier. `erasePerson` is the
 * operation, for other command lines to call.
 */
import { redactDatabaseUrl } from "#core/config";
import { ValidationError } from "#core/errors";
import {
  type ErasureIdentifiers,
  ErasureIdentifiersSchema,
  hashPersonIdentifiers,
  importEntityIdKey,
  keyEntityId,
  LOCAL_ENTITY_ID_KEY,
  type ParkedBundlesReport,
  PERSON_ERASURE_STATEMENT,
  type PersonTable,
  personErasureCounts,
  personRecordMatcher,
  scrubParkedBundles,
} from "#core/privacy";
import { parseCommandLine, usageError } from "./command-line";
import { appendKeyAudit, runIfMain, tenantIssues, withPostgres } from "./keys-common";
import {
  type OperatorBucket,
  type OperatorR2,
  openOperatorR2,
  requireDatabaseUrl,
} from "./privacy-stores";

export const USAGE = `Usage: npm run erase -- --tenant <id> [--email <e>] [--phone <p>] [--external-id <id>] [--entity-id <id>]

  --tenant       the tenant whose data names the person
  --email        the person's email address
  --phone        the person's phone number, with its country code
  --external-id  the tenant's id of the person (user_data.external_id; predictions scored with it
                 as entityId are erased too)
  --entity-id    the entityId the tenant scored the person with, when it is not the external id
  (at least one identifier; "-" reads the value from standard input, which keeps it out of
  the shell's history)

The identifiers are hashed as the ingest hashes user_data (and entity ids keyed with
ENTITY_ID_KEY); raw values are not stored, logged or printed. Erases the person's predictions,
the click ids and conversion keys linked to them, and their records in parked dead-letter
bundles. Events in Kafka expire with the topics' retention (docs/privacy.md).

Environment:
  DATABASE_URL         default: the local stack's database
  ENTITY_ID_KEY        the Worker's entity-id key (default: the local stack's)
  R2_S3_ENDPOINT       a deployment's R2 S3 API, with R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY
                       (see npm run tenants:delete -- --help); unset: the local stack's R2
  DRIFTLINE_STATE_DIR  the local stack's state dir, whose R2 persistence is used
  DRIFTLINE_OPERATOR   the name the audit log records (default: the OS user)`;

export interface ErasePersonOptions {
  tenant: string;
  identifiers: ErasureIdentifiers;
  databaseUrl: string;
  /** The Worker's ENTITY_ID_KEY: entity ids are stored keyed with it. */
  entityIdKey: string;
  /** The Worker's DEAD_LETTERS bucket; absent: parked bundles are not searched. */
  deadLetters?: OperatorBucket;
}

export interface ErasureReport {
  tenant: string;
  /** Which kinds of identifier were given (never their values). */
  identifiers: string[];
  postgres: { url: string; tables: Record<PersonTable, number> };
  deadLetters?: ParkedBundlesReport;
}

/**
 * Hashes the identifiers, then deletes the person's rows and appends the audit entry in one
 * transaction (both or neither), then scrubs the parked bundles. Running it again finds nothing
 * more and reports zeros.
 */
export async function erasePerson(options: ErasePersonOptions): Promise<ErasureReport> {
  const { tenant } = options;
  const hashed = await hashPersonIdentifiers(options.identifiers);
  if (hashed.kind === "invalid") {
    throw new ValidationError(
      hashed.issues.map((i) => `--${kebab(i.field)} ${i.message}`).join("\n"),
      hashed.issues,
    );
  }
  const { person } = hashed;
  const key = await importEntityIdKey(options.entityIdKey);
  const entityKeys = await Promise.all(person.entityIds.map((id) => keyEntityId(key, tenant, id)));

  const tables = await withPostgres(
    options.databaseUrl,
    "erase the person in",
    async (client) => {
      const { rows } = await client.query(PERSON_ERASURE_STATEMENT, [tenant, entityKeys]);
      const counts = personErasureCounts(rows[0]);
      await appendKeyAudit(client, {
        tenant,
        action: "person.erase",
        target: "person",
        before: null,
        after: { identifiers: person.given, removed: counts },
      });
      return counts;
    },
    { transaction: true },
  );

  const deadLetters =
    options.deadLetters === undefined
      ? undefined
      : await scrubParkedBundles(
          options.deadLetters,
          personRecordMatcher(tenant, person, entityKeys),
        );
  return {
    tenant,
    identifiers: person.given,
    postgres: { url: redactDatabaseUrl(options.databaseUrl), tables },
    ...(deadLetters === undefined ? {} : { deadLetters }),
  };
}

function kebab(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The lines the command prints: counts only, never an identifier. */
export function describeErasure(report: ErasureReport): string {
  const t = report.postgres.tables;
  const lines = [
    `Erased from tenant ${report.tenant} (by ${report.identifiers.join(", ")}):`,
    `  Postgres ${report.postgres.url}: ${t.predictions} predictions, ${t.click_id_predictions} click ids, ${t.conversion_keys} conversion keys`,
  ];
  const d = report.deadLetters;
  lines.push(
    d === undefined
      ? "  Parked dead letters: not searched (no bucket)."
      : `  Parked dead letters: ${d.records} records removed (${d.rewritten} bundles rewritten, ${d.deleted} deleted, ${d.scanned} read)`,
    "  Kafka: the person's events and predictions expire with the topics' retention (docs/privacy.md).",
  );
  return lines.join("\n");
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").trim();
}

async function main(): Promise<void> {
  const spec = {
    command: "npm run erase",
    usage: USAGE,
    options: {
      tenant: { type: "string" },
      email: { type: "string" },
      phone: { type: "string" },
      "external-id": { type: "string" },
      "entity-id": { type: "string" },
    },
  } as const;
  const { values } = parseCommandLine(spec);
  const tenant = values.tenant ?? "";
  const issues = tenantIssues(tenant);
  if (issues.length > 0) usageError(spec, `${issues[0]!.field} ${issues[0]!.message}`);
  const given = {
    email: values.email,
    phone: values.phone,
    externalId: values["external-id"],
    entityId: values["entity-id"],
  };
  const fromStdin = Object.entries(given).filter(([, v]) => v === "-");
  if (fromStdin.length > 1)
    usageError(spec, 'only one identifier can be read from standard input ("-")');
  if (fromStdin[0] !== undefined) {
    (given as Record<string, string | undefined>)[fromStdin[0][0]] = await readStdin();
  }
  const parsed = ErasureIdentifiersSchema.safeParse(
    Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)),
  );
  if (!parsed.success) usageError(spec, parsed.error.issues[0]?.message ?? "bad identifiers");
  const databaseUrl = await requireDatabaseUrl(process.env.DATABASE_URL);
  const r2: OperatorR2 = await openOperatorR2(process.env);
  try {
    const report = await erasePerson({
      tenant,
      identifiers: parsed.data,
      databaseUrl,
      entityIdKey: process.env.ENTITY_ID_KEY ?? LOCAL_ENTITY_ID_KEY,
      deadLetters: r2.deadLetters,
    });
    console.log(describeErasure(report));
  } finally {
    await r2.close();
  }
}

runIfMain(import.meta.url, main);
