/** Authorization rules of every room version. See check.ts for the entry points. */
export { checkAuth, checkStateDependent } from './check.ts';
export { checkStateIndependent } from './state-independent.ts';
export { authEventsNeeded, checkAuthEventsList } from './auth-events.ts';
export {
  getPowerLevel,
  getRequiredPowerLevel,
  getNamedLevel,
  isRoomCreator,
  roomCreators,
  parseLevel,
  NAMED_LEVEL_DEFAULTS,
  type NamedLevel,
} from './power-levels.ts';
export { ruleNumber, leafRuleIds } from './rules.ts';
export { stateKeyOf, splitStateKey } from './types.ts';
export type { AuthEventMap, AuthOptions, AuthResult, IdentifiedPdu } from './types.ts';
export { verifySignedWithKey } from './third-party-invite.ts';
