/**
 * The pursuance core's own rules schema and rule compiler (pure modules: zod and CASL, no Node
 * APIs). The dashboard uses them for what it offers and for rule-change dry runs, so its
 * answers come from the same checks every member's node runs; the node stays authoritative.
 */
export {
  allows,
  checkPlain,
  checkRole,
  checkTask,
  compileAbility,
  permissionUniverse,
  type Action,
  type Check,
  type PursuanceAbility,
  type SubjectName,
} from '../../../../packages/pursuance/src/rules/compile.js';
export {
  RoleIdSchema,
  RulesSchema,
  TASK_ACTIONS,
  type Capability,
  type Role,
  type Rules,
  type TaskAction,
} from '../../../../packages/pursuance/src/rules/schema.js';
