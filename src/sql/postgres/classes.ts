import type { Effect } from './facts.ts';

/**
 * Effect classes per statement node. Only the effects a statement has by its kind live here;
 * writes hidden inside (writable CTEs, SELECT INTO, EXPLAIN ANALYZE, …) are found by the walker.
 * A statement kind missing from this table is `unknown`, and so denied by default: new grammar
 * must be classified deliberately, never allowed by accident.
 */
export const STATEMENT_EFFECTS: Readonly<Record<string, readonly Effect[]>> = {
  // Reads
  SelectStmt: ['read'],
  VariableShowStmt: ['read'],
  FetchStmt: ['read'],
  // Writes
  InsertStmt: ['write'],
  UpdateStmt: ['write'],
  DeleteStmt: ['write'],
  MergeStmt: ['write'],
  RefreshMatViewStmt: ['write'],
  // Object definitions
  ...of(
    ['ddl'],
    [
      'AlterCollationStmt',
      'AlterDatabaseRefreshCollStmt',
      'AlterDatabaseSetStmt',
      'AlterDatabaseStmt',
      'AlterDomainStmt',
      'AlterEnumStmt',
      'AlterEventTrigStmt',
      'AlterExtensionContentsStmt',
      'AlterExtensionStmt',
      'AlterFdwStmt',
      'AlterForeignServerStmt',
      'AlterFunctionStmt',
      'AlterObjectDependsStmt',
      'AlterObjectSchemaStmt',
      'AlterOpFamilyStmt',
      'AlterOperatorStmt',
      'AlterOwnerStmt',
      'AlterPolicyStmt',
      'AlterPublicationStmt',
      'AlterSeqStmt',
      'AlterStatsStmt',
      'AlterSubscriptionStmt',
      'AlterTSConfigurationStmt',
      'AlterTSDictionaryStmt',
      'AlterTableMoveAllStmt',
      'AlterTableSpaceOptionsStmt',
      'AlterTableStmt',
      'AlterTypeStmt',
      'AlterUserMappingStmt',
      'CommentStmt',
      'CompositeTypeStmt',
      'CreateAmStmt',
      'CreateCastStmt',
      'CreateConversionStmt',
      'CreateDomainStmt',
      'CreateEnumStmt',
      'CreateEventTrigStmt',
      'CreateExtensionStmt',
      'CreateFdwStmt',
      'CreateForeignServerStmt',
      'CreateForeignTableStmt',
      'CreateFunctionStmt',
      'CreateOpClassStmt',
      'CreateOpFamilyStmt',
      'CreatePLangStmt',
      'CreatePolicyStmt',
      'CreatePublicationStmt',
      'CreateRangeStmt',
      'CreateSchemaStmt',
      'CreateSeqStmt',
      'CreateStatsStmt',
      'CreateStmt',
      'CreateSubscriptionStmt',
      'CreateTableAsStmt',
      'CreateTableSpaceStmt',
      'CreateTransformStmt',
      'CreateTrigStmt',
      'CreateUserMappingStmt',
      'CreatedbStmt',
      'DefineStmt',
      'DropStmt',
      'DropSubscriptionStmt',
      'DropTableSpaceStmt',
      'DropUserMappingStmt',
      'DropdbStmt',
      'ImportForeignSchemaStmt',
      'IndexStmt',
      'RenameStmt',
      'ReplicaIdentityStmt',
      'RuleStmt',
      'SecLabelStmt',
      'TruncateStmt',
      'ViewStmt',
    ],
  ),
  // Privileges and roles
  ...of(
    ['dcl'],
    [
      'AlterDefaultPrivilegesStmt',
      'AlterRoleSetStmt',
      'AlterRoleStmt',
      'CreateRoleStmt',
      'DropOwnedStmt',
      'DropRoleStmt',
      'GrantRoleStmt',
      'GrantStmt',
      'ReassignOwnedStmt',
    ],
  ),
  // Server administration and cross-session side effects
  ...of(
    ['admin'],
    [
      'AlterSystemStmt',
      'CheckPointStmt',
      'ClusterStmt',
      'LoadStmt',
      'LockStmt',
      'NotifyStmt',
      'ReindexStmt',
      'VacuumStmt',
    ],
  ),
  // Session state
  ...of(
    ['session'],
    [
      'ClosePortalStmt',
      'DeallocateStmt',
      'DeclareCursorStmt',
      'DiscardStmt',
      'ListenStmt',
      'PrepareStmt',
      'UnlistenStmt',
      'VariableSetStmt',
    ],
  ),
  // EXECUTE runs a statement whose facts live with its PREPARE: unknown until the caller resolves it.
  ExecuteStmt: ['unknown'],
  TransactionStmt: ['transaction'],
  ConstraintsSetStmt: ['transaction'],
  CopyStmt: ['copy'],
  // Bodies the gateway cannot see into
  DoStmt: ['procedural'],
  CallStmt: ['procedural'],
  // EXPLAIN alone plans without executing; EXPLAIN ANALYZE adds the inner statement's effects.
  ExplainStmt: ['read'],
};

function of(effects: readonly Effect[], kinds: readonly string[]): Record<string, readonly Effect[]> {
  return Object.fromEntries(kinds.map((kind) => [kind, effects]));
}
