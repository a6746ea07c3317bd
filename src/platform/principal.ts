import { ForbiddenError, ValidationError } from "./errors.ts";

/** Who a verified token speaks for: its `sub`, the admin claim and its roles. */
export interface Identity {
  sub: string;
  admin: boolean;
  roles: readonly string[];
}

/** The role that may publish forms and deploy processes. */
export const DESIGNER_ROLE = "designer";
const SERVICE_PREFIX = "service:";

/**
 * Who a request speaks for, as the role that owns the data sees it (docs/security.md):
 * a user (numeric `sub`), a role calling another role (`service:<role>`), or, with
 * `auth.enabled: false`, the local operator.
 */
export interface Principal extends Identity {
  /** The user id a user's token names (a positive integer `sub`); undefined for services and the local operator. */
  userId: number | undefined;
  /** `<role>` of a `service:<role>` credential. */
  service: string | undefined;
  /** auth is off: no credential was asked for, and the request may name the user it acts for. */
  local: boolean;
  /** The Authorization value it was verified from: lets a role ask another role on the caller's behalf. */
  authorization?: string;
}

const MAX_USER_ID = 2_147_483_647;

export function principalOf(identity: Identity): Principal {
  const service = identity.sub.startsWith(SERVICE_PREFIX) ? identity.sub.slice(SERVICE_PREFIX.length) : undefined;
  const n = /^[1-9]\d{0,9}$/.test(identity.sub) ? Number(identity.sub) : undefined;
  return { ...identity, userId: service === undefined && n !== undefined && n <= MAX_USER_ID ? n : undefined, service, local: false };
}

/** With `auth.enabled: false`: every caller is the local operator (admin, designer, may act for any user). */
export const LOCAL_OPERATOR: Principal = Object.freeze({ sub: "local", admin: true, roles: Object.freeze([DESIGNER_ROLE]), userId: undefined, service: undefined, local: true });

/** Admins, roles' service credentials and the local operator act for any user. */
export function actsForAnyone(p: Principal): boolean {
  return p.admin || p.service !== undefined || p.local;
}

/** Sees every user's objects (lists and streams unfiltered). Services and the local operator too. */
export const seesAll = actsForAnyone;

/** Publishes forms, deploys processes. */
export function isDesigner(p: Principal): boolean {
  return p.admin || p.local || p.roles.includes(DESIGNER_ROLE);
}

/** The user a request acts for: the caller's own id, or (for those who act for anyone) the one it names. */
export function actingUser(p: Principal, named: number | undefined, what: string): number {
  if (actsForAnyone(p)) {
    if (named !== undefined) return named;
    if (p.userId !== undefined) return p.userId;
    throw new ValidationError(`${what} needs a user: name one in the request (user_id / started_by)`);
  }
  if (p.userId === undefined) throw new ForbiddenError(`${what} needs a user's token (sub must be a numeric user id)`);
  if (named !== undefined && named !== p.userId) throw new ForbiddenError(`${what} for another user needs an admin or service credential`);
  return p.userId;
}

/** Whether `p` may see an object belonging to `userIds` (owner, participants). */
export function mayRead(p: Principal, ...userIds: readonly (number | null | undefined)[]): boolean {
  if (seesAll(p)) return true;
  return p.userId !== undefined && userIds.includes(p.userId);
}
