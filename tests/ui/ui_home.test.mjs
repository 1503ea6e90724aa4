// The home page (#/home) in the browser: the first page after sign-in for
// every role, with the parts and counts GET /v1/me/summary gives that role
// (seeded through the API: loan requests waiting for the approver, a paper
// original past its due date, a certificate about to expire, a record due
// for disposition, a pending retention change, a scheduled verification
// every second), the counts in the navigation, dates in the chosen
// language's one format, and the approvals inbox: a reason per row, bulk
// approval of the ticked rows with each row's result in its row (one
// approved behind the page's back fails alone), a rejection per row.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  makeArchive, setConfig, startServer, launchBrowser, screenshotter, signIn, signOut, go, settle, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Sales'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
  ['cora', 'approver', 'Sales'],
  ['lena', 'legal', 'Legal'],
  ['ada', 'auditor', 'Audit'],
];

let archive;
let server;
let browser;
const snap = screenshotter('home');
const tokens = {};
const seeded = {};

const inFromNow = (ms) => new Date(Date.now() + ms).toISOString();
const dayFromToday = (days) => new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);

async function checkIn(title, extra = {}) {
  const meta = { type: 'general', title, department: 'Sales', classification: 'internal', ...extra };
  const res = await apiCall(server, 'POST', '/v1/records', {
    token: tokens.alice,
    multipart: [
      { name: 'metadata', type: 'application/json', data: JSON.stringify(meta) },
      { name: 'file', filename: `${title}.pdf`, type: 'application/pdf', data: `%PDF-1.4 ${title}` },
    ],
  });
  return res.data.id;
}

async function requestLoan(who, recordId, kind, dueAt) {
  const res = await apiCall(server, 'POST', '/v1/loans', { token: tokens[who], json: { recordId, kind, dueAt } });
  return res.data.id;
}

async function summary(who) {
  return (await apiCall(server, 'GET', '/v1/me/summary', { token: tokens[who] })).data;
}

async function until(fn, what) {
  for (let i = 0; i < 200; i += 1) {
    if (await fn()) return;
    await new Promise((r) => { setTimeout(r, 100); });
  }
  assert.fail(`timed out waiting for ${what}`);
}

before(async () => {
  archive = makeArchive(USERS);
  setConfig(archive.dataDir, 'audit.verify_interval', '1s');
  setConfig(archive.dataDir, 'audit.full_verify_interval', '1s');
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  for (const [name] of USERS) tokens[name] = await apiSignIn(server, name);
  tokens.admin = await apiSignIn(server, 'admin');

  // Three requests of bob wait for the approvers of Sales.
  seeded.requests = [];
  for (const title of ['借阅甲 Loan A', '借阅乙 Loan B', '借阅丙 Loan C']) {
    seeded.requests.push(await requestLoan('bob', await checkIn(title), 'digital', inFromNow(48 * 3600e3)));
  }
  // A paper original out past its due date.
  const original = await checkIn('纸质原件 Original');
  seeded.overdue = await requestLoan('bob', original, 'physical', inFromNow(2000));
  await apiCall(server, 'POST', `/v1/loans/${seeded.overdue}/approve`, { token: tokens.cora });
  await apiCall(server, 'POST', `/v1/loans/${seeded.overdue}/checkout`, { token: tokens.alice });
  // A certificate that runs out in 20 days.
  await checkIn('ISO 9001 证书 Certificate', {
    type: 'qualification', metadata: { issuer: '中国质量认证中心', certificateNumber: 'CQC-0815', validUntil: dayFromToday(20) },
  });
  // A record due for disposition, and a shortening that waits for legal.
  const due = await checkIn('到期档案 Due record');
  const rule = { trigger: 'created', period: 'P0D', action: 'destroy' };
  const change = await apiCall(server, 'PUT', `/v1/records/${due}/retention`, { token: tokens.alice, json: rule });
  await apiCall(server, 'POST', `/v1/retention/changes/${change.data.id}/approve`, { token: tokens.lena });
  await apiCall(server, 'GET', '/v1/disposition/due', { token: tokens.alice });
  const pending = await checkIn('待定档案 Pending rule');
  await apiCall(server, 'PUT', `/v1/records/${pending}/retention`, { token: tokens.alice, json: rule });

  await until(async () => (await summary('bob')).myLoans.some((l) => l.id === seeded.overdue && l.overdue), 'the original to be overdue');
  await until(async () => (await summary('ada')).lastVerification.result === 'clean', 'a clean scheduled verification');
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

// The count a home card shows, or null when the card is not there.
async function cardCount(page, id) {
  const card = page.locator(`#home-${id}`);
  if (await card.count() === 0) return null;
  return Number(await card.getAttribute('data-count'));
}

async function navCount(page, key) {
  const badge = page.locator(`nav.sidebar a[data-nav="${key}"] .nav-count`);
  if (await badge.count() === 0) return null;
  return Number(await badge.getAttribute('data-count'));
}

test('every role lands on its home page with its own parts and counts', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();

  await signIn(page, server.origin, 'carol');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home', 'an approver starts at home');
  assert.equal(await cardCount(page, 'approve-loans'), 3, 'three requests wait for the approver');
  assert.equal(await cardCount(page, 'approve-destructions'), 0);
  assert.equal(await cardCount(page, 'overdue-originals'), 1);
  assert.equal(await cardCount(page, 'disposition-queue'), null, 'no disposition queue for an approver');
  await page.locator('nav.sidebar a[data-nav="approveLoans"] .nav-count').waitFor();
  assert.equal(await navCount(page, 'approveLoans'), 3, 'the inbox link carries the count');
  assert.match(await page.locator('nav.sidebar a[data-nav="approveLoans"] .sr-only').textContent(), /3 项待处理/);
  await snap(page, 'home-approver');
  await page.click('#home-approve-loans');
  await page.waitForFunction(() => window.location.hash === '#/loans?view=inbox');
  await settle(page);
  await signOut(page);

  await signIn(page, server.origin, 'bob');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home');
  assert.equal(await page.locator('#home-approvals').count(), 0, 'staff approve nothing');
  assert.equal(await cardCount(page, 'expiring-certificates'), 1);
  assert.equal(await cardCount(page, 'overdue-originals'), null, 'staff get no overdue list');
  const overdueRow = page.locator('table.home-loans tbody tr', { hasText: seeded.overdue });
  assert.match(await overdueRow.textContent(), /逾期/, 'the borrower sees their original is overdue');
  assert.equal(await page.locator('table.home-loans tbody tr').count(), 4, 'four open loans');
  // One date format per language: 2026-12-07 14:30, then 7 Dec 2026 14:30.
  const dueCell = overdueRow.locator('td[data-label="归还期限"]');
  assert.match((await dueCell.textContent()).trim(), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
  await snap(page, 'home-staff');
  await page.click('.lang-switch');
  await settle(page);
  const dueEn = page.locator('table.home-loans tbody tr', { hasText: seeded.overdue }).locator('td[data-label="Due"]');
  assert.match((await dueEn.textContent()).trim(), /^\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}/);
  await page.click('.lang-switch');
  await settle(page);
  await signOut(page);

  await signIn(page, server.origin, 'alice');
  assert.equal(await cardCount(page, 'disposition-queue'), 1);
  assert.equal(await cardCount(page, 'pending-retention'), 1);
  assert.equal(await cardCount(page, 'overdue-originals'), 1);
  assert.equal(await page.locator('#home-approvals').count(), 0, 'an archivist approves nothing');
  await page.locator('nav.sidebar a[data-nav="disposition"] .nav-count').waitFor();
  assert.equal(await navCount(page, 'disposition'), 1);
  await signOut(page);

  await signIn(page, server.origin, 'lena');
  assert.equal(await cardCount(page, 'approve-retention'), 1, 'legal decides the shortening');
  assert.equal(await cardCount(page, 'approve-loans'), null, 'legal approves no loans');
  await signOut(page);

  await signIn(page, server.origin, 'ada');
  // Passes run every second: one may be under way as the page loads, and
  // then the card says so; the next load shows the clean pass.
  await until(async () => {
    if (await page.getAttribute('#home-verification', 'data-result') === 'clean') return true;
    await page.reload();
    await settle(page);
    return false;
  }, 'the home page showing a clean scheduled verification');
  assert.equal(await page.locator('#home-approvals').count(), 0);
  await snap(page, 'home-auditor');
  await signOut(page);

  await signIn(page, server.origin, 'admin');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home');
  assert.equal(await cardCount(page, 'approve-grants'), 0);
  assert.equal(await page.locator('#home-verification').count(), 1);
  assert.equal(await page.locator('table.home-loans').count(), 0, 'no loans for the administrator');
  assert.equal(await page.locator('a[href="#/records"]').count(), 0, 'nor a catalogue');
  await context.close();
});

test('the inbox approves the ticked rows, each with its reason, and shows each result in its row', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const [first, second, third] = seeded.requests;
  await signIn(page, server.origin, 'carol');
  await go(page, '#/loans?view=inbox');
  const row = (id) => page.locator(`table.inbox-table tbody tr[data-loan="${id}"]`);
  assert.equal(await page.locator('table.inbox-table tbody tr').count(), 3);
  assert.equal(await page.isDisabled('#approve-selected'), true, 'nothing ticked, nothing to approve');

  // Select all, then untick the third; each row gets its own reason.
  await page.check('#inbox-select-all');
  await row(third).locator('input.pick-row').uncheck();
  assert.equal(await page.locator('#inbox-select-all').evaluate((el) => el.indeterminate), true);
  await row(first).locator('input.row-reason').fill('季度审计 quarterly audit');
  await row(second).locator('input.row-reason').fill('合同复核 contract review');
  // Meanwhile the other approver decides the second one.
  await apiCall(server, 'POST', `/v1/loans/${second}/approve`, { token: tokens.cora });
  await page.click('#approve-selected');
  await row(first).locator('.row-result-ok').waitFor();
  await row(second).locator('.row-result-error').waitFor();
  assert.match(await row(first).locator('.row-result').textContent(), /已批准/);
  assert.match(await row(second).locator('.row-result').textContent(), /当前为“借出中”/, 'the refusal names the state');
  assert.match(await page.textContent('main .status-area'), /已批准 1 项，1 项未能批准/);
  assert.equal(await row(first).locator('button').count(), 0, 'a decided row offers nothing more');
  await snap(page, 'inbox-bulk');

  // The reason went with the approval, into the log.
  const loan = (await apiCall(server, 'GET', `/v1/loans/${first}`, { token: tokens.carol })).data;
  assert.equal(loan.state, 'checked_out');
  const approval = loan.events.filter((e) => e.action === 'loan.approve').pop();
  const entry = (await apiCall(server, 'GET', `/v1/log/entries?start=${approval.logIndex}&end=${approval.logIndex + 1}`, { token: tokens.ada })).data[0];
  assert.equal(entry.event.details.reason, '季度审计 quarterly audit');

  // A rejection is per row, confirmed, with that row's reason.
  await row(third).locator('input.row-reason').fill('用途不明 purpose unclear');
  await row(third).locator('button[data-action=reject]').click();
  await page.click('#confirm-ok');
  await row(third).locator('.row-result-ok').waitFor();
  assert.match(await row(third).locator('.row-result').textContent(), /已驳回/);
  const rejected = (await apiCall(server, 'GET', `/v1/loans/${third}`, { token: tokens.carol })).data;
  assert.equal(rejected.state, 'rejected');
  assert.equal(rejected.reason, '用途不明 purpose unclear');

  // The counts follow on the next navigation.
  await go(page, '#/home');
  assert.equal(await cardCount(page, 'approve-loans'), 0);
  assert.equal(await navCount(page, 'approveLoans'), null, 'no badge when nothing waits');
  await context.close();
});
