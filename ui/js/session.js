// The signed-in user. The bearer token lives in sessionStorage: it survives a
// reload of the tab but not the tab itself, is never in a cookie (so no
// cross-site request can carry it) and is never written anywhere else.
// Sign-out removes it; the server ends the session with DELETE /v1/session.

const KEY = 'custos.token';
// A session that may only enrol a second factor (the sign-in answered
// mustEnrolSecondFactor): the user as the sign-in gave it, kept beside the
// token so that a reload of the enrolment page keeps it. The server answers
// 403 second_factor_enrolment_required to everything else such a session asks.
const ENROL_KEY = 'custos.enrol';

let currentUser = null;

export function token() {
  try { return sessionStorage.getItem(KEY); } catch (_) { return null; }
}

export function start(newToken, user, { mustEnrolSecondFactor = false } = {}) {
  try {
    sessionStorage.setItem(KEY, newToken);
    if (mustEnrolSecondFactor) sessionStorage.setItem(ENROL_KEY, JSON.stringify(user));
    else sessionStorage.removeItem(ENROL_KEY);
  } catch (_) { /* private mode: memory only */ }
  currentUser = mustEnrolSecondFactor ? { ...user, mustEnrolSecondFactor: true } : user;
}

// The user of a restricted session kept by start(), or null.
export function enrolling() {
  try {
    const saved = sessionStorage.getItem(ENROL_KEY);
    return saved ? { ...JSON.parse(saved), mustEnrolSecondFactor: true } : null;
  } catch (_) { return null; }
}

// The second factor is enrolled: the session is no longer restricted.
export function enrolled(user) {
  try { sessionStorage.removeItem(ENROL_KEY); } catch (_) { /* nothing stored */ }
  currentUser = user;
}

export function setUser(user) { currentUser = user; }

export function user() { return currentUser; }

export function end() {
  try {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(ENROL_KEY);
  } catch (_) { /* nothing stored */ }
  currentUser = null;
}

// What the signed-in role may do, mirroring docs/api.md "Roles". The server
// enforces every rule; this only decides what the UI offers.
const RULES = {
  catalogue: ['archivist', 'staff', 'approver', 'legal', 'auditor'],
  checkIn: ['archivist'],
  editRecord: ['archivist'],
  borrow: ['archivist', 'staff', 'approver', 'legal', 'auditor'],
  approveLoans: ['approver'],
  desk: ['archivist'],
  allLoans: ['archivist', 'legal', 'auditor'],
  register: ['archivist', 'legal', 'auditor'],
  revokeLoans: ['archivist', 'approver'],
  alerts: ['archivist', 'staff', 'approver', 'legal', 'auditor', 'sysadmin', 'security_officer', 'security_auditor'],
  retention: ['archivist', 'legal', 'auditor'],
  editRetention: ['archivist'],
  decideRetention: ['legal'],
  disposition: ['archivist', 'legal', 'auditor'],
  holds: ['archivist', 'legal', 'auditor'],
  editHolds: ['legal'],
  destructions: ['archivist', 'approver', 'legal', 'auditor'],
  proposeDestruction: ['archivist'],
  approveDestruction: ['approver', 'legal'],
  executeDestruction: ['archivist'],
  audit: ['archivist', 'staff', 'approver', 'legal', 'auditor', 'security_auditor'],
  verify: ['auditor'],
  readLog: ['auditor', 'archivist', 'security_auditor'],
  exportPackage: ['archivist', 'staff', 'approver', 'legal', 'auditor'],
  // Administration (docs/security.md, three roles): the system administrator
  // keeps accounts and departments; the security officer proposes grants,
  // issues set-up codes and unlocks; the security auditor reads. A grant is
  // confirmed by a security officer or the system administrator who is
  // neither its proposer nor its target (the page hides the rest).
  users: ['sysadmin', 'security_officer', 'security_auditor'],
  manageUsers: ['sysadmin'],
  departments: ['sysadmin'],
  setupCodes: ['security_officer'],
  unlock: ['security_officer'],
  grants: ['sysadmin', 'security_officer', 'security_auditor'],
  proposeGrants: ['security_officer'],
  decideGrants: ['security_officer', 'sysadmin'],
};

// The administrative roles: no catalogue, no content, no approvals.
export const ADMIN_ROLES = ['sysadmin', 'security_officer', 'security_auditor'];

export function can(what) {
  const rule = RULES[what];
  return Boolean(currentUser && rule && rule.includes(currentUser.role));
}

// Whether the signed-in user may read this record's content now, mirroring
// the server's rule (docs/api.md "Roles"): an archivist below secret, legal
// for contracts, anyone else through their own digital loan that is handed
// out and not yet due. It only decides whether the UI offers "Show text";
// the server decides every read.
export function mayReadContent(record) {
  if (!currentUser || !record || record.tombstone) return false;
  if (currentUser.role === 'archivist' && record.classification !== 'secret') return true;
  if (currentUser.role === 'legal' && record.type === 'contract') return true;
  const now = Date.now();
  return (record.loans || []).some((l) => l.kind === 'digital' && l.state === 'checked_out'
    && l.borrower === currentUser.username && !(new Date(l.dueAt).getTime() <= now));
}
