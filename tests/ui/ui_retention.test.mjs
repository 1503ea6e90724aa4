// The archivist's and legal's other work in the browser: a new version, a
// paper original handed out and taken back at the desk, a retention
// shortening approved by legal, a legal hold placed and released, and a
// destruction batch proposed from the disposition queue, approved by an
// approver and legal, executed, and its signed certificate downloaded.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, settle, go, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Archive'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
  ['lena', 'legal', 'Legal'],
];

let archive;
let server;
let browser;
const ids = {};

async function checkIn(token, metadata, name) {
  const res = await apiCall(server, 'POST', '/v1/records', {
    token,
    multipart: [{ name: 'metadata', type: 'application/json', data: JSON.stringify(metadata) },
      { name: 'file', filename: name, type: 'application/pdf', data: `%PDF-1.4 ${name}` }],
  });
  return res.data.id;
}

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  const alice = await apiSignIn(server, 'alice');
  const bob = await apiSignIn(server, 'bob');
  const carol = await apiSignIn(server, 'carol');
  ids.contract = await checkIn(alice, {
    type: 'contract', title: 'Distribution agreement', department: 'Sales', classification: 'internal',
    metadata: { counterparty: 'North Trading', contractNumber: 'NT-1', signedDate: '2026-02-01', endDate: '2031-01-31' },
  }, 'distribution.pdf');
  ids.expired = await checkIn(alice, {
    type: 'contract', title: 'Warehouse lease 2005', department: 'Sales', classification: 'internal',
    metadata: { counterparty: 'Storage Co.', contractNumber: 'W-2005', signedDate: '2005-01-01', endDate: '2006-01-01' },
  }, 'warehouse-lease.pdf');
  const loan = await apiCall(server, 'POST', '/v1/loans', {
    token: bob, json: { recordId: ids.contract, kind: 'physical', purpose: 'customs inspection', dueAt: new Date(Date.now() + 7 * 86400000).toISOString() },
  });
  ids.loan = loan.data.id;
  await apiCall(server, 'POST', `/v1/loans/${ids.loan}/approve`, { token: carol });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

test('versions, the loan desk, retention, holds and destruction in the browser', { timeout: 300000 }, async () => {
  const snap = screenshotter('retention');
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const { origin } = server;

  // --- archivist: a supplementary agreement as version 2 ---------------
  await signIn(page, origin, 'alice');
  await go(page, `#/records/${ids.contract}`);
  await page.click('#new-version');
  await settle(page);
  await page.selectOption('#version-kind', 'supplementary_agreement');
  await page.fill('#version-note', '补充协议：价格调整');
  await page.setInputFiles('#version-files', [{ name: 'supplement-1.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 supplement') }]);
  await snap(page, 'new-version-form');
  await page.click('#version-submit');
  await page.waitForFunction((id) => window.location.hash === `#/records/${id}`, ids.contract);
  await settle(page);
  assert.equal(await page.locator('.timeline-item').count(), 2);
  assert.match(await page.textContent('#version-2'), /补充协议/);
  await snap(page, 'record-two-versions');

  // --- archivist: hand the original out at the desk, then take it back --
  await go(page, '#/loans?view=desk');
  await page.click(`button[data-action=checkout][data-loan="${ids.loan}"]`);
  await page.locator('.notice-success', { hasText: ids.loan }).waitFor();
  await settle(page);
  await snap(page, 'desk-handed-out');
  await go(page, `#/records/${ids.contract}`);
  assert.match(await page.textContent('main'), /纸质原件已借给 bob/);
  await go(page, '#/loans?view=desk');
  await page.click(`button[data-action=return][data-loan="${ids.loan}"]`);
  await page.locator('.notice-success', { hasText: ids.loan }).waitFor();
  await settle(page);
  await go(page, `#/loans/${ids.loan}`);
  assert.match(await page.textContent('#loan-state'), /已归还/);
  await snap(page, 'loan-returned');

  // --- archivist: shorten the general schedule (waits for legal) -------
  await go(page, '#/retention');
  const generalRow = page.locator('tr', { hasText: '一般档案' });
  await generalRow.locator('button').click();
  await page.fill('.edit-row input[name=period]', 'P3Y');
  await page.click('.edit-row button[type=submit]');
  await page.locator('.notice-info', { hasText: 'RC-' }).waitFor();
  await settle(page);
  await snap(page, 'retention-pending');

  // --- archivist: propose destruction of the expired lease -------------
  await go(page, '#/disposition');
  await page.check(`input[data-record="${ids.expired}"]`);
  await page.fill('#destruction-reason', '保管期满 retention expired');
  await snap(page, 'disposition-queue');
  await page.click('#propose-destruction');
  await page.waitForFunction(() => /^#\/destructions\/DB-/.test(window.location.hash));
  await settle(page);
  const batchId = (await page.evaluate(() => window.location.hash)).split('/').pop();
  await snap(page, 'destruction-proposed');
  await signOut(page);

  // --- approver approves the batch -------------------------------------
  await signIn(page, origin, 'carol');
  await go(page, `#/destructions/${batchId}`);
  await page.click('#approve-destruction');
  await page.locator('.notice-success').waitFor();
  await settle(page);
  await signOut(page);

  // --- legal: approves the shortening and the batch, places and releases a hold
  await signIn(page, origin, 'lena');
  await go(page, '#/retention');
  await page.click('button:has-text("批准")');
  await page.locator('.notice-success', { hasText: 'RC-' }).waitFor();
  await settle(page);
  assert.match(await page.textContent('main'), /入库日 \+ 3 年/);
  await snap(page, 'retention-approved');
  await go(page, `#/destructions/${batchId}`);
  await page.click('#approve-destruction');
  await page.locator('.notice-success').waitFor();
  await settle(page);
  await snap(page, 'destruction-approved');

  await go(page, '#/holds');
  await page.fill('#hold-name', 'North Trading dispute');
  await page.fill('textarea[name=reason]', 'Customs claim');
  await page.fill('#hold-records', ids.contract);
  await page.click('#create-hold');
  await page.waitForFunction(() => /^#\/holds\/LH-/.test(window.location.hash));
  await settle(page);
  // The message is a sentence that names the hold, not a column's label.
  const placed = await page.textContent('.notice-success');
  assert.match(placed, /^已设立法律保全“North Trading dispute”（LH-[^）]+），涉及 1 件档案。$/, placed);
  await snap(page, 'hold-placed');
  await go(page, `#/records/${ids.contract}`);
  assert.match(await page.textContent('main'), /保全中/);
  await page.goBack();
  await settle(page);
  // Releasing asks first; cancelling (Escape) keeps the hold.
  await page.click('#release-hold');
  await page.locator('dialog.confirm-dialog[open]').waitFor();
  await page.keyboard.press('Escape');
  await page.locator('dialog.confirm-dialog').waitFor({ state: 'detached' });
  assert.match(await page.textContent('main'), /保全中|生效/);
  await page.click('#release-hold');
  await page.click('#confirm-ok');
  await page.locator('.notice-info').waitFor();
  await settle(page);
  assert.match(await page.textContent('main'), /已解除/);
  await snap(page, 'hold-released');
  await signOut(page);

  // --- archivist executes; the certificate downloads --------------------
  await signIn(page, origin, 'alice');
  await go(page, `#/destructions/${batchId}`);
  // Executing needs the batch id typed: a wrong one keeps the button
  // disabled and nothing is executed.
  await page.click('#execute-destruction');
  await page.locator('dialog.confirm-dialog[open]').waitFor();
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'confirm-typed', 'the focus is in the dialog');
  await page.fill('#confirm-typed', `${batchId.slice(0, -1)}X`);
  assert.equal(await page.isDisabled('#confirm-ok'), true, 'a wrong id does not enable execution');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('dialog.confirm-dialog[open]').count(), 1, 'Enter with a wrong id does nothing');
  await snap(page, 'destruction-confirm');
  await page.click('#confirm-cancel');
  await page.locator('dialog.confirm-dialog').waitFor({ state: 'detached' });
  const stillApproved = await apiCall(server, 'GET', `/v1/destructions/${batchId}`, { token: await apiSignIn(server, 'alice') });
  assert.equal(stillApproved.data.state, 'approved', 'nothing was executed');
  await page.click('#execute-destruction');
  await page.fill('#confirm-typed', batchId);
  assert.equal(await page.isDisabled('#confirm-ok'), false);
  await page.keyboard.press('Enter');
  await page.locator('.notice-success').waitFor();
  await settle(page);
  const [cert] = await Promise.all([page.waitForEvent('download'), page.click('#certificate')]);
  const text = fs.readFileSync(await cert.path(), 'utf8');
  assert.match(text, /^custos destruction certificate v1\n/);
  assert.ok(text.includes(ids.expired));
  await snap(page, 'destruction-executed');
  await go(page, `#/records/${ids.expired}`);
  assert.match(await page.textContent('main'), /已销毁/);
  assert.equal(await page.locator('button[data-action=download]').count(), 0, 'no content to download');
  await snap(page, 'record-destroyed');

  assert.deepEqual(pageErrors, []);
  await context.close();
});
