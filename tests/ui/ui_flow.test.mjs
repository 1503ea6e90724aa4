// End to end in a real browser: an archivist checks in a contract with two
// files, a staff member asks to borrow it, the department's approver
// approves, the staff member downloads the file (and the record's evidence
// bundle) and gets exactly the bytes
// that were uploaded, and an auditor runs a verification that comes back
// clean. A screenshot of every page visited goes to build/test-artifacts/ui.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, settle, go, sha256, seededBytes, PASSWORD,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Archive'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
  ['dave', 'auditor', 'Audit'],
  // custosctl's account whose password must be changed at first sign-in.
  ['erin', 'staff', 'Sales', { forceChange: true }],
];

// 3 MiB so that the upload reports progress; a second, small text file
// with a non-ASCII name.
const CONTRACT = { name: 'supply-contract-2026.pdf', mimeType: 'application/pdf', buffer: Buffer.concat([Buffer.from('%PDF-1.7\n'), seededBytes(3 * 1024 * 1024, 20261126)]) };
const ANNEX = { name: '附件-价格表.txt', mimeType: 'text/plain', buffer: Buffer.from('单价表 price list\nitem,price\nA-100,12.50\n', 'utf8') };

let archive;
let server;
let browser;

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

test('check-in, loan, approval, download and verification in the browser', { timeout: 300000 }, async () => {
  const snap = screenshotter('flow');
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1360, height: 900 },
    locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const { origin } = server;

  // --- the archivist checks in a contract with two files ----------------
  await page.goto(`${origin}/`);
  await page.locator('#sign-in').waitFor();
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN', 'Chinese is the default language');
  await snap(page, 'signin');

  await signIn(page, origin, 'alice');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home', 'every role starts at the home page');
  await go(page, '#/records');
  await snap(page, 'catalogue-empty');
  await page.click('#go-checkin');
  await settle(page);
  await page.selectOption('#checkin-type', 'contract');
  await page.selectOption('#checkin-classification', 'internal');
  await page.fill('#checkin-title', '2026 年度供货合同 Supply agreement');
  await page.selectOption('#checkin-department', 'Sales');
  await page.fill('#checkin-location', 'B-12 / 3');
  await page.fill('#meta-counterparty', 'Example Supplies Ltd.');
  await page.fill('#meta-contractNumber', 'ES-2026-0042');
  await page.fill('#meta-signedDate', '2026-03-01');
  await page.fill('#meta-endDate', '2028-02-28');
  await page.fill('#meta-currency', 'CNY');

  // An amount in words, stopped before the upload by the server's own rule
  // (invalid_metadata, rule decimal): the UI says so in Chinese, marks the
  // amount field and sends nothing. (A refusal by the server itself, with
  // the progress bar saying the upload failed, is in ui_catalogue.test.mjs.)
  const sent = [];
  const onRequest = (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/records') sent.push(r.url()); };
  page.on('request', onRequest);
  await page.fill('#meta-amount', '一百二十五万元');
  await page.setInputFiles('#checkin-files', [ANNEX]);
  await page.locator('.file-list tbody tr').first().waitFor();
  await page.click('#checkin-submit');
  const refusedUpload = page.locator('.status-area .notice-error');
  await refusedUpload.waitFor();
  const refusedText = await refusedUpload.textContent();
  assert.match(refusedText, /金额/, refusedText);
  assert.match(refusedText, /十进制/, refusedText);
  assert.doesNotMatch(refusedText, /must be|decimal number|metadata\./, 'no English server text');
  assert.equal(await page.getAttribute('#meta-amount', 'aria-invalid'), 'true', 'the amount field is marked');
  const fieldError = page.locator('#meta-amount + .field-error');
  assert.ok(await fieldError.isVisible(), 'a visible message under the field');
  const fieldErrorId = await fieldError.getAttribute('id');
  assert.ok((await page.getAttribute('#meta-amount', 'aria-describedby')).split(' ').includes(fieldErrorId), 'the message describes the field');
  assert.deepEqual(sent, [], 'nothing was uploaded');
  assert.equal(await page.locator('.progress').isVisible(), false, 'no upload started');
  page.off('request', onRequest);
  await snap(page, 'checkin-refused');
  await page.fill('#meta-amount', '1250000.00');
  await page.setInputFiles('#checkin-files', [CONTRACT]);
  await page.locator('.file-list tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('.file-list tbody tr').count(), 2, 'both files are listed before upload');
  await snap(page, 'checkin-form');

  // The upload goes through XMLHttpRequest (fetch reports no upload
  // progress), and the progress bar is shown.
  const upload = page.waitForRequest((r) => r.url().endsWith('/v1/records') && r.method() === 'POST');
  await page.click('#checkin-submit');
  assert.equal((await upload).resourceType(), 'xhr');
  await page.waitForFunction(() => /^#\/records\/CT-\d{4}-\d{6}$/.test(window.location.hash), null, { timeout: 60000 });
  await settle(page);
  const recordId = (await page.textContent('#record-id')).trim();
  assert.match(recordId, /^CT-\d{4}-\d{6}$/);
  assert.match(await page.textContent('.notice-success'), new RegExp(recordId));
  const recordText = await page.textContent('main');
  assert.ok(recordText.includes(sha256(CONTRACT.buffer)), 'the contract\'s SHA-256 is shown');
  assert.ok(recordText.includes(sha256(ANNEX.buffer)), 'the annex\'s SHA-256 is shown');
  assert.ok(recordText.includes('Example Supplies Ltd.'));
  assert.equal(await page.locator('button[data-action=download]').count(), 2);
  assert.ok(await page.locator('#disposition-date').textContent(), 'the disposition date is shown');
  await snap(page, 'record-archivist');
  await signOut(page);
  await snap(page, 'signed-out');

  // --- staff finds the record, cannot read it yet, asks for a loan ----
  await signIn(page, origin, 'bob');
  await go(page, '#/records');
  await page.fill('#search-q', '供货合同');
  await page.click('#search-submit');
  await page.waitForFunction(() => window.location.hash.startsWith('#/records?q='));
  await settle(page);
  await snap(page, 'catalogue-search');
  await page.click(`a[href="#/records/${recordId}"]`);
  await settle(page);
  // The download is disabled with the reason beside it, not refused after a click.
  const refused = page.locator(`button[data-action=download][data-file="${CONTRACT.name}"]`);
  assert.ok(await refused.isDisabled(), 'no download without the right to read');
  assert.match(await page.locator(`#${await refused.getAttribute('aria-describedby')}`).textContent(), /借阅/, 'the reason says that a loan is needed');
  await snap(page, 'record-staff-no-loan');

  await page.click('#borrow');
  await settle(page);
  await page.fill('#loan-purpose', '核对价格条款 / price review');
  // Longer than the longest loan: the answer's code and params
  // ({maxDays: 90}) are shown in Chinese, with the due date marked.
  const defaultDue = await page.inputValue('#loan-due');
  const tooLate = new Date(Date.now() + 200 * 86400000);
  const pad = (x) => String(x).padStart(2, '0');
  await page.fill('#loan-due', `${tooLate.getFullYear()}-${pad(tooLate.getMonth() + 1)}-${pad(tooLate.getDate())}T17:00`);
  await page.click('#request-loan');
  const tooLong = page.locator('.status-area .notice-error');
  await tooLong.waitFor();
  const tooLongText = await tooLong.textContent();
  assert.match(tooLongText, /借阅期限最长 90 天/, tooLongText);
  assert.doesNotMatch(tooLongText, /[A-Za-z]{3,}/, `no English in ${tooLongText}`);
  assert.equal(await page.getAttribute('#loan-due', 'aria-invalid'), 'true');
  await page.fill('#loan-due', defaultDue);
  await snap(page, 'loan-request');
  await page.click('#request-loan');
  await page.waitForFunction(() => /^#\/loans\/LN-/.test(window.location.hash));
  await settle(page);
  const loanId = (await page.textContent('#page-title')).trim();
  assert.match(loanId, /^LN-\d{4}-\d{6}$/);
  assert.match(await page.textContent('#loan-state'), /待审批/);
  await snap(page, 'loan-requested');
  await signOut(page);

  // --- the approver of Sales approves it from the inbox ----------------
  await signIn(page, origin, 'carol');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home', 'an approver starts at the home page');
  await go(page, '#/loans?view=inbox');
  const approve = page.locator(`button[data-action=approve][data-loan="${loanId}"]`);
  await approve.waitFor();
  await snap(page, 'approvals-inbox');
  await approve.click();
  await page.locator('.notice-success', { hasText: loanId }).waitFor();
  await settle(page);
  assert.equal(await page.locator(`button[data-action=approve][data-loan="${loanId}"]`).count(), 0, 'the loan left the inbox');
  await snap(page, 'approvals-done');
  await signOut(page);

  // --- staff downloads both files; the bytes are those uploaded ------
  await signIn(page, origin, 'bob');
  await go(page, '#/loans?view=mine');
  assert.match(await page.textContent('main'), /借出中/, 'the digital loan is checked out');
  await snap(page, 'my-loans');
  await page.click(`a[href="#/records/${recordId}"]`);
  await settle(page);
  for (const file of [CONTRACT, ANNEX]) {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click(`button[data-action=download][data-file="${file.name}"]`),
    ]);
    assert.equal(download.suggestedFilename(), file.name);
    const saved = await download.path();
    const bytes = fs.readFileSync(saved);
    assert.equal(bytes.length, file.buffer.length, `${file.name}: size`);
    assert.equal(sha256(bytes), sha256(file.buffer), `${file.name}: SHA-256`);
    assert.ok(bytes.equals(file.buffer), `${file.name}: bytes`);
  }
  await page.locator('.status-area .notice-success').waitFor();
  // The evidence bundle: one zip with the originals she may read, the
  // custody events and the summary.
  const [evidence] = await Promise.all([page.waitForEvent('download'), page.click('#evidence')]);
  assert.equal(evidence.suggestedFilename(), `evidence-${recordId}.zip`);
  const zip = fs.readFileSync(await evidence.path());
  for (const part of [CONTRACT.name, ANNEX.name, 'summary.md', 'log/checkpoint']) {
    assert.ok(zip.includes(Buffer.from(part)), `the evidence bundle holds ${part}`);
  }
  await go(page, `#/records/${recordId}`);
  assert.match(await page.textContent('main'), new RegExp(`${loanId}`), 'the history shows the reads under the loan');
  await snap(page, 'record-staff-downloaded');
  await signOut(page);

  // --- the auditor (in English) verifies the archive ------------------
  await signIn(page, origin, 'dave');
  await page.click('.lang-switch');
  await settle(page);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.evaluate(() => localStorage.getItem('custos.lang')), 'en', 'the choice is remembered');
  await go(page, '#/audit');
  await snap(page, 'audit-before');
  await page.click('#run-verification');
  const verdict = page.locator('#verify-verdict');
  await verdict.waitFor({ timeout: 120000 });
  assert.ok(await verdict.evaluate((el) => el.classList.contains('verdict-ok')), await verdict.textContent());
  assert.match(await verdict.textContent(), /Clean/);
  await snap(page, 'audit-verified');

  // ... and exports the record as an audit package.
  await page.fill('#export-records', recordId);
  const [pkg] = await Promise.all([
    page.waitForEvent('download', { timeout: 120000 }),
    page.click('#start-export'),
  ]);
  // An auditor without a loan gets metadata, hashes, log and receipts.
  const pkgBytes = fs.readFileSync(await pkg.path());
  assert.match(pkg.suggestedFilename(), /\.tar\.gz$/);
  const tar = zlib.gunzipSync(pkgBytes).toString('latin1');
  assert.ok(tar.includes(recordId), 'the package holds the record');
  assert.ok(tar.includes(sha256(CONTRACT.buffer)), 'the package holds the file hashes');
  await page.locator('form:has(#start-export) .status-area .notice', { hasText: pkg.suggestedFilename() }).waitFor();
  await snap(page, 'audit-exported');
  // The package holds no file content (no loan): the UI says so, lists
  // every file withheld with its reason, and never claims content.
  const saved = await page.textContent('form:has(#start-export) .status-area .notice');
  assert.match(saved, /no file content/, saved);
  const withheld = await page.textContent('#export-withheld');
  assert.ok(withheld.includes(CONTRACT.name) && withheld.includes(ANNEX.name), withheld);
  assert.match(withheld, /approved digital loan/, withheld);
  await go(page, `#/records/${recordId}`);
  // English counts: "2 files", and one result is "1 record".
  // (textContent runs the table cells together: no \b at the ends.)
  assert.match(await page.textContent('main'), /version 1 \(Original\), 2 files/);
  await snap(page, 'record-auditor-en');
  await go(page, `#/records?q=${encodeURIComponent('供货合同')}`);
  assert.equal((await page.textContent('#result-count')).trim(), '1 record');
  const forms = await page.evaluate(async () => {
    const i18n = await import('/js/i18n.js');
    return [1, 2].map((n) => [i18n.t('checkin.filesSummary', { n, size: '1 KiB' }), i18n.t('alerts.daysLeft', { n })]);
  });
  assert.deepEqual(forms, [['1 file, 1 KiB in all', '1 day left'], ['2 files, 1 KiB in all', '2 days left']]);
  // A refused file name is said from its params, in either language.
  const named = await page.evaluate(async () => {
    const i18n = await import('/js/i18n.js');
    const err = { code: 'invalid_file_name', status: 422, message: 'file name may not contain …', params: { field: 'filename', rule: 'path_character', character: '\\' } };
    const en = i18n.errorText(err);
    i18n.setLang('zh');
    const zh = i18n.errorText(err);
    i18n.setLang('en');
    return [en, zh];
  });
  assert.deepEqual(named, ['"File name" may not contain \\: it is a name, not a path.', '“文件名”不能包含 \\：它是名称，不是路径。']);
  await signOut(page);

  // The token is gone after sign-out.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('custos.token')), null);
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('accounts: wrong password, the system administrator creates a user awaiting set-up, forced password change', { timeout: 120000 }, async () => {
  const snap = screenshotter('accounts');
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const { origin } = server;

  // A wrong password is answered with the message for invalid_credentials.
  await page.goto(`${origin}/`);
  await page.locator('#sign-in').waitFor();
  await page.fill('input[name=username]', 'bob');
  await page.fill('input[name=password]', 'not-the-password');
  await page.click('#sign-in');
  const wrong = page.locator('.notice-error');
  await wrong.waitFor();
  assert.match(await wrong.textContent(), /用户名或密码错误/);
  await snap(page, 'signin-wrong-password');

  // The system administrator adds a department and a user: staff, no
  // password, awaiting the set-up code of the security officer
  // (ui_second_factor.test.mjs follows that code).
  await signIn(page, origin, 'admin');
  assert.equal(await page.evaluate(() => window.location.hash), '#/home');
  assert.equal(await page.locator('a[href="#/records"]').count(), 0, 'an admin is offered no catalogue');
  await go(page, '#/admin/departments');
  await page.fill('#new-department-name', 'Quality 质量部');
  await page.click('text=创建部门');
  await page.locator('.notice-success').waitFor();
  await settle(page);
  assert.match(await page.textContent('main'), /Quality 质量部/);
  await snap(page, 'admin-departments');
  await go(page, '#/admin/users');
  assert.equal(await page.locator('#new-password').count(), 0, 'a new account gets no password from the administrator');
  await page.fill('#new-username', 'quinn');
  await page.selectOption('#new-department', 'Quality 质量部');
  await page.click('#create-user');
  await page.locator('.notice-success', { hasText: 'quinn' }).waitFor();
  await settle(page);
  assert.match(await page.locator('#users-table tr[data-user="quinn"]').textContent(), /员工.*Quality 质量部.*待设置/);
  await snap(page, 'admin-users');
  await signOut(page);

  // erin (made by custosctl with a password to change) is sent to the
  // password page and can do nothing else first.
  await page.fill('input[name=username]', 'erin');
  await page.fill('input[name=password]', PASSWORD);
  await page.click('#sign-in');
  await page.waitForFunction(() => window.location.hash === '#/password');
  await settle(page);
  assert.equal(await page.locator('nav.sidebar').count(), 0, 'no navigation before the change');
  await page.evaluate(() => { window.location.hash = '#/records'; });
  await page.waitForFunction(() => window.location.hash === '#/password', null, { timeout: 10000 });
  await settle(page);
  await page.fill('input[name=current]', 'wrong-current-password');
  await page.fill('input[name=next]', 'second-password-erin');
  await page.fill('input[name=again]', 'second-password-erin');
  await page.click('#change-password');
  const refused = page.locator('.notice-error');
  await refused.waitFor();
  assert.match(await refused.textContent(), /当前密码不正确/);
  await snap(page, 'password-forced');
  await page.fill('input[name=current]', PASSWORD);
  await page.click('#change-password');
  await page.waitForFunction(() => window.location.hash === '#/home');
  await settle(page);
  assert.match(await page.textContent('.notice-success'), /密码已修改/);
  await snap(page, 'password-changed');
  await context.close();
});
