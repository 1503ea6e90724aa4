// The API's vocabularies (docs/openapi.yaml components/schemas) and the
// type-specific catalogue fields of each record type.

import * as api from './api.js';

export const TYPES = ['contract', 'product_dossier', 'customer_file', 'qualification', 'general'];
export const CLASSIFICATIONS = ['public', 'internal', 'confidential', 'secret'];
export const RECORD_STATES = ['active', 'on_hold', 'disposition_due', 'destroyed'];
export const NEW_VERSION_KINDS = ['amendment', 'supplementary_agreement', 'change_note', 'copy', 'renewal'];
export const LOAN_STATES = ['requested', 'approved', 'checked_out', 'returned', 'rejected', 'revoked', 'expired'];
// The roles a grant may give ('admin', the pre-split administrator, is
// only ever read: custosd migrates it to sysadmin).
export const ROLES = ['staff', 'archivist', 'approver', 'legal', 'auditor', 'sysadmin', 'security_officer', 'security_auditor'];
export const TRIGGERS = ['created', 'contract_end', 'valid_until', 'last_activity'];
export const ACTIONS = ['destroy', 'review', 'permanent'];

// Per type: [field, input type, required].
export const TYPE_FIELDS = {
  contract: [
    ['counterparty', 'text', true],
    ['contractNumber', 'text', true],
    ['signedDate', 'date', true],
    ['effectiveDate', 'date', false],
    ['endDate', 'date', false],
    ['amount', 'text', false],
    ['currency', 'text', false],
  ],
  qualification: [
    ['issuer', 'text', true],
    ['certificateNumber', 'text', true],
    ['validUntil', 'date', true],
    ['issuedDate', 'date', false],
    ['scope', 'text', false],
  ],
  product_dossier: [
    ['productModel', 'text', true],
    ['documentKind', 'text', true],
  ],
  customer_file: [
    ['customerName', 'text', true],
    ['customerId', 'text', true],
  ],
  general: [],
};

// Departments change rarely; one list per page load is enough.
let departmentCache = null;
export async function departments() {
  if (!departmentCache) {
    departmentCache = api.get('/v1/departments').then((r) => r.departments).catch((e) => { departmentCache = null; throw e; });
  }
  return departmentCache;
}
export function forgetDepartments() { departmentCache = null; }
