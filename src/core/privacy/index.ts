/** Tenant deletion and the erasure of one person: what is stored where, and the pure rules for removing it. */
export { importEntityIdKey, keyEntityId, LOCAL_ENTITY_ID_KEY } from "./entity-key.ts";
export {
  PARKED_BUNDLES_PREFIX,
  type ParkedBundleBucket,
  type ParkedBundlesReport,
  personRecordMatcher,
  type RecordMatcher,
  type ScrubbedBundle,
  scrubParkedBundle,
  scrubParkedBundles,
  tenantRecordMatcher,
} from "./parked-bundles.ts";
export {
  PERSON_ERASURE_STATEMENT,
  PERSON_TABLES,
  type PersonTable,
  personErasureCounts,
} from "./person-erasure-sql.ts";
export {
  type ErasureIdentifiers,
  ErasureIdentifiersSchema,
  type HashedPerson,
  type HashPersonResult,
  hashPersonIdentifiers,
} from "./person-identifiers.ts";
export {
  KEPT_TENANT_TABLES,
  TENANT_TABLES,
  type TenantTable,
  tenantCountStatement,
  tenantDeleteStatement,
  UNTENANTED_TABLES,
} from "./tenant-tables.ts";
