// Every page of the UI: a hash path pattern, the page function, and the
// capability (session.js) a role needs to see it.

import { signInPage, passwordPage, setupPage, enrolPage } from './pages/signin.js';
import { homePage } from './pages/home.js';
import { cataloguePage } from './pages/catalogue.js';
import { recordPage, borrowPage, editRecordPage } from './pages/record.js';
import { comparePage } from './pages/compare.js';
import { checkInPage, newVersionPage } from './pages/checkin.js';
import { loansPage, loanPage } from './pages/loans.js';
import { alertsPage } from './pages/alerts.js';
import { retentionPage, dispositionPage } from './pages/retention.js';
import { holdsPage, holdPage } from './pages/holds.js';
import { destructionsPage, destructionPage } from './pages/destructions.js';
import { auditPage } from './pages/audit.js';
import { usersPage, departmentsPage, grantsPage } from './pages/admin.js';

const ID = '([A-Za-z0-9._-]+)';

export const routes = [
  { pattern: /^\/signin$/, page: signInPage },
  { pattern: /^\/password$/, page: passwordPage },
  { pattern: /^\/setup$/, page: setupPage },
  { pattern: /^\/enrol$/, page: enrolPage },
  { pattern: /^\/home$/, page: homePage },
  { pattern: /^\/records$/, page: cataloguePage, cap: 'catalogue' },
  { pattern: new RegExp(`^/records/${ID}$`), page: recordPage, cap: 'catalogue' },
  { pattern: new RegExp(`^/records/${ID}/borrow$`), page: borrowPage, cap: 'borrow' },
  { pattern: new RegExp(`^/records/${ID}/compare$`), page: comparePage, cap: 'catalogue' },
  { pattern: new RegExp(`^/records/${ID}/edit$`), page: editRecordPage, cap: 'editRecord' },
  { pattern: new RegExp(`^/records/${ID}/new-version$`), page: newVersionPage, cap: 'checkIn' },
  { pattern: /^\/checkin$/, page: checkInPage, cap: 'checkIn' },
  { pattern: /^\/loans$/, page: loansPage, cap: 'borrow' },
  { pattern: new RegExp(`^/loans/${ID}$`), page: loanPage, cap: 'borrow' },
  { pattern: /^\/alerts$/, page: alertsPage, cap: 'alerts' },
  { pattern: /^\/retention$/, page: retentionPage, cap: 'retention' },
  { pattern: /^\/disposition$/, page: dispositionPage, cap: 'disposition' },
  { pattern: /^\/holds$/, page: holdsPage, cap: 'holds' },
  { pattern: new RegExp(`^/holds/${ID}$`), page: holdPage, cap: 'holds' },
  { pattern: /^\/destructions$/, page: destructionsPage, cap: 'destructions' },
  { pattern: new RegExp(`^/destructions/${ID}$`), page: destructionPage, cap: 'destructions' },
  { pattern: /^\/audit$/, page: auditPage, cap: 'audit' },
  { pattern: /^\/admin\/users$/, page: usersPage, cap: 'users' },
  { pattern: /^\/admin\/grants$/, page: grantsPage, cap: 'grants' },
  { pattern: /^\/admin\/departments$/, page: departmentsPage, cap: 'departments' },
];
