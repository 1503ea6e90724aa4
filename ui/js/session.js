// The signed-in user. The bearer token lives in sessionStorage: it survives a
// reload of the tab but not the tab itself, is never in a cookie (so no
// cross-site request can carry it) and is never written anywhere else.
// Sign-out removes it; the server ends the session with DELETE /v1/session.

const KEY = 'custos.token';

let currentUser = null;

export function token() {
  try { return sessionStorage.getItem(KEY); } catch (_) { return null; }
}

export function start(newToken, user) {
  try { sessionStorage.setItem(KEY, newToken); } catch (_) { /* private mode: memory only */ }
  currentUser = user;
}

export function setUser(user) { currentUser = user; }

export function user() { return currentUser; }

export function end() {
  try { sessionStorage.removeItem(KEY); } catch (_) { /* nothing stored */ }
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
  alerts: ['archivist', 'staff', 'approver', 'legal', 'auditor', 'admin'],
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
  audit: ['archivist', 'staff', 'approver', 'legal', 'auditor'],
  verify: ['auditor'],
  readLog: ['auditor', 'archivist'],
  exportPackage: ['archivist', 'staff', 'approver', 'legal', 'auditor'],
  admin: ['admin'],
};

export function can(what) {
  const rule = RULES[what];
  return Boolean(currentUser && rule && rule.includes(currentUser.role));
}
