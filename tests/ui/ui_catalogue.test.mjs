// The catalogue for the day's work and the check-in, in a real browser
// against a real custosd (docs/ui.md "The catalogue" and "Check-in"):
// - legal selects two records in the catalogue and adds them to a new
//   legal hold in one go; the page shows the outcome per record and the
//   hold, read back through the API, lists both; exported, the package
//   downloads and each record says it went in with its content;
// - an archivist's bulk destruction proposal of records that are not due
//   is refused whole: the record the server names shows its reason, the
//   other "not proposed";
// - sorting by title asks the server for that order (sort=title), marks
//   the header with aria-sort and changes the order of the rows, both ways;
//   the contract columns (counterparty, contract number, end date) appear
//   with the type filter, page size and jump to a page change the page;
// - a saved search is kept per user, applied again from its link after a
//   reload, and deleted;
// - a check-in with an unfinished date and an amount with commas is
//   stopped before anything is sent: both fields are marked (aria-invalid,
//   the message under the field and linked by aria-describedby); a
//   counterparty too long for the server is refused by it and the refusal
//   is marked on that field; a file with a Chinese name dropped on the
//   drop zone (a DataTransfer) with a .p7s named after it is then checked
//   in with its name unchanged and that signature.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, settle, go, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Sales'],
  ['lena', 'legal', 'Legal'],
];

const RUN = `R${Date.now().toString(36)}`;
// Checked in in this order, so that the default order (newest first) is
// neither the title order nor its reverse.
const CONTRACTS = [
  { title: `Charlie 丙 供货合同 ${RUN}`, counterparty: '丙方贸易 Charlie Trading', contractNumber: 'CT-C-003', endDate: '2029-12-31' },
  { title: `Alpha 甲 供货合同 ${RUN}`, counterparty: '甲方实业 Alpha Industries', contractNumber: 'CT-A-001', endDate: '2027-06-30' },
  { title: `Bravo 乙 供货合同 ${RUN}`, counterparty: '乙方科技 Bravo Tech', contractNumber: 'CT-B-002', endDate: '2028-01-15' },
];
const BY_TITLE = ['Alpha', 'Bravo', 'Charlie'];
// Enough general records for a second page at 20 per page.
const FILLERS = 21;

let archive;
let server;
let browser;
const ids = {};

async function checkIn(token, meta, name, text) {
  const parts = [
    { name: 'metadata', type: 'application/json', data: JSON.stringify(meta) },
    { name: 'file', filename: name, type: 'text/plain', data: Buffer.from(text, 'utf8') },
  ];
  return (await apiCall(server, 'POST', '/v1/records', { token, multipart: parts })).data;
}

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  browser = await launchBrowser();
  const token = await apiSignIn(server, 'alice');
  for (const c of CONTRACTS) {
    const r = await checkIn(token, {
      type: 'contract', title: c.title, department: 'Sales', classification: 'internal',
      metadata: { counterparty: c.counterparty, contractNumber: c.contractNumber, signedDate: '2026-01-05', endDate: c.endDate },
    }, `合同-${c.contractNumber}.txt`, `${c.title}\n`);
    ids[c.title.split(' ')[0]] = r.id;
  }
  for (let i = 0; i < FILLERS; i += 1) {
    await checkIn(token, { type: 'general', title: `一般文件 General ${i} ${RUN}`, department: 'Sales', classification: 'internal' }, `note-${i}.txt`, `${i}\n`);
  }
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

async function newPage() {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, pageErrors };
}

// The archive numbers of the catalogue's rows, top to bottom.
function rowIds(page) {
  return page.locator('#catalogue-table tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.record));
}

test('legal adds two records to a new hold from the catalogue; a refused destruction proposal is shown per record', { timeout: 60000 }, async () => {
  const snap = screenshotter('catalogue-bulk');
  const { page, context, pageErrors } = await newPage();
  await signIn(page, server.origin, 'lena');
  await go(page, `#/records?q=${encodeURIComponent(RUN)}&type=contract`);
  // legal may export and place holds, not propose destructions.
  assert.equal(await page.locator('#bulk-export').count(), 1);
  assert.equal(await page.locator('#bulk-hold').count(), 1);
  assert.equal(await page.locator('#bulk-destroy').count(), 0, 'legal is offered no destruction proposal');
  assert.ok(await page.locator('#bulk-hold').isDisabled(), 'nothing chosen: the action waits');

  await page.check(`input.pick-row[value="${ids.Alpha}"]`);
  await page.check(`input.pick-row[value="${ids.Charlie}"]`);
  assert.match(await page.textContent('#bulk-count'), /已选 2 件/);
  assert.equal(await page.locator('input.pick-all').evaluate((el) => el.indeterminate), true, 'two of three: the page box is mixed');
  await page.click('#bulk-hold');
  await page.locator('#bulk-hold-form').waitFor();
  // No hold is open yet: "new hold" is the choice, with its fields.
  assert.equal(await page.inputValue('#bulk-hold-choice'), '__new__');
  await page.fill('#bulk-hold-name', `诉讼保全 Litigation ${RUN}`);
  await page.fill('#bulk-hold-case', '（2026）沪0101民初1号');
  await page.fill('#bulk-hold-reason', '合同纠纷，保全相关档案。');
  await page.click('#bulk-hold-submit');
  await page.locator('#bulk-results-table').waitFor();
  const outcomes = await page.locator('#bulk-results-table tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.record, r.dataset.outcome]));
  assert.deepEqual(outcomes.sort(), [[ids.Alpha, 'ok'], [ids.Charlie, 'ok']].sort());
  const holdHref = await page.getAttribute('#bulk-hold-link', 'href');
  const holdId = decodeURIComponent(holdHref.replace('#/holds/', ''));
  await snap(page, 'hold-added');

  const token = await apiSignIn(server, 'lena');
  const hold = (await apiCall(server, 'GET', `/v1/holds/${holdId}`, { token })).data;
  assert.deepEqual([...hold.recordIds].sort(), [ids.Alpha, ids.Charlie].sort(), 'the hold lists both records');
  assert.equal(hold.state, 'active');

  // The same two exported as one package: downloaded, and per record
  // what it holds (legal reads contracts, so every file's content).
  const download = page.waitForEvent('download');
  await page.click('#bulk-export');
  assert.match((await download).suggestedFilename(), /^EX-.*\.zip$|^custos-export-/);
  await page.locator('#bulk-results-table').waitFor();
  await page.locator('#bulk-results-title', { hasText: '导出包' }).waitFor();
  const exported = await page.locator('#bulk-results-table tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.record, r.dataset.outcome, r.textContent]));
  assert.equal(exported.length, 2);
  assert.ok(exported.every(([, outcome, text]) => outcome === 'ok' && /含全部文件内容/.test(text)), JSON.stringify(exported));

  // Selecting the whole page, then a second hold: the open one is offered.
  await go(page, `#/records?q=${encodeURIComponent(RUN)}&type=contract&sort=id`);
  await page.check('input.pick-all');
  assert.equal(await page.locator('input.pick-row:checked').count(), 3);
  await page.click('#bulk-hold');
  await page.locator('#bulk-hold-form').waitFor();
  assert.equal(await page.inputValue('#bulk-hold-choice'), holdId, 'the open hold is the first choice');
  await signOut(page);

  // The archivist proposes a destruction of records that are not due: the
  // server refuses the batch and names one record.
  await signIn(page, server.origin, 'alice');
  await go(page, `#/records?q=${encodeURIComponent(RUN)}&type=contract`);
  assert.equal(await page.locator('#bulk-hold').count(), 0, 'an archivist places no holds');
  await page.check(`input.pick-row[value="${ids.Bravo}"]`);
  await page.check(`input.pick-row[value="${ids.Alpha}"]`);
  await page.click('#bulk-destroy');
  await page.fill('#bulk-destroy-reason', '保管期限届满');
  await page.click('#bulk-destroy-submit');
  await page.locator('#bulk-results-table').waitFor();
  const refused = await page.locator('#bulk-results-table tbody tr').evaluateAll((rows) => rows.map((r) => [r.dataset.record, r.dataset.outcome, r.textContent]));
  assert.equal(refused.length, 2);
  assert.ok(refused.every(([, outcome]) => outcome === 'failed'), 'nothing was proposed');
  assert.ok(refused.some(([, , text]) => /未提议/.test(text)), 'the other record says it was not proposed');
  await snap(page, 'destroy-refused');
  const { data: { destructions } } = await apiCall(server, 'GET', '/v1/destructions', { token: await apiSignIn(server, 'alice') });
  assert.equal(destructions.length, 0, 'no batch was made');
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('sorting by title orders the rows on the server, both ways; type columns, page size and jump', { timeout: 60000 }, async () => {
  const snap = screenshotter('catalogue-sort');
  const { page, context, pageErrors } = await newPage();
  await signIn(page, server.origin, 'alice');
  await go(page, `#/records?q=${encodeURIComponent(RUN)}&type=contract`);
  // The contract's own columns, with the values of each record.
  const heads = await page.locator('#catalogue-table thead th').allTextContents();
  for (const label of ['合同相对方', '合同编号', '终止日期']) assert.ok(heads.some((x) => x.includes(label)), `${label} column: ${heads}`);
  assert.match(await page.textContent(`#catalogue-table tr[data-record="${ids.Alpha}"]`), /甲方实业 Alpha Industries[\s\S]*CT-A-001[\s\S]*2027-06-30/);
  assert.equal(await page.getAttribute('th[data-sort="title"]', 'aria-sort'), 'none');

  // The header is a button: Enter on it sorts.
  const asked = page.waitForRequest((r) => r.url().includes('/v1/records?') && r.url().includes('sort=title'));
  await page.focus('th[data-sort="title"] button');
  await page.keyboard.press('Enter');
  const req = new URL((await asked).url());
  assert.equal(req.searchParams.get('order'), 'asc');
  await page.waitForFunction(() => window.location.hash.includes('sort=title'));
  await settle(page);
  assert.equal(await page.getAttribute('th[data-sort="title"]', 'aria-sort'), 'ascending');
  assert.deepEqual(await rowIds(page), BY_TITLE.map((k) => ids[k]), 'title ascending');
  await page.click('th[data-sort="title"] button');
  await page.waitForFunction(() => window.location.hash.includes('order=desc'));
  await settle(page);
  assert.equal(await page.getAttribute('th[data-sort="title"]', 'aria-sort'), 'descending');
  assert.deepEqual(await rowIds(page), [...BY_TITLE].reverse().map((k) => ids[k]), 'title descending');
  // By the contract's end date, a metadata field.
  await page.click('th[data-sort="endDate"] button');
  await page.waitForFunction(() => window.location.hash.includes('sort=endDate'));
  await settle(page);
  assert.deepEqual(await rowIds(page), [ids.Alpha, ids.Bravo, ids.Charlie], 'end date ascending');
  await snap(page, 'sorted');

  // 24 records: two pages of 20; 50 per page shows them all; jump to 2.
  await go(page, `#/records?q=${encodeURIComponent(RUN)}`);
  assert.equal(await page.locator('#catalogue-table tbody tr').count(), 20);
  assert.match(await page.textContent('#pager-pos'), /第 1 \/ 2 页/);
  await page.fill('#jump-page', '3');
  await page.click('#jump-go');
  assert.equal(await page.getAttribute('#jump-page', 'aria-invalid'), 'true', 'page 3 of 2 is refused on the field');
  await page.fill('#jump-page', '2');
  await page.click('#jump-go');
  await page.waitForFunction(() => window.location.hash.includes('page=2'));
  await settle(page);
  assert.equal(await page.locator('#catalogue-table tbody tr').count(), 4);
  await page.selectOption('#page-size', '50');
  await page.waitForFunction(() => window.location.hash.includes('pageSize=50'));
  await settle(page);
  assert.equal(await page.locator('#catalogue-table tbody tr').count(), 24, 'the page size resets to page 1');
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('a saved search is kept for its user and applied again', { timeout: 60000 }, async () => {
  const { page, context, pageErrors } = await newPage();
  await signIn(page, server.origin, 'alice');
  await go(page, `#/records?q=${encodeURIComponent(`Bravo ${RUN}`)}&type=contract`);
  assert.deepEqual(await rowIds(page), [ids.Bravo]);
  // The matched words are marked in the title.
  assert.ok(await page.locator(`tr[data-record="${ids.Bravo}"] .title-cell mark, tr[data-record="${ids.Bravo}"] .hit-matches mark`).count() > 0, 'the hit is marked');
  await page.fill('#saved-name', '乙方合同 Bravo');
  await page.click('#saved-save');
  await page.locator('a.saved-apply', { hasText: '乙方合同 Bravo' }).waitFor();
  const stored = await page.evaluate(() => JSON.parse(localStorage.getItem('custos.savedSearches.alice')));
  assert.equal(stored.length, 1);
  assert.equal(stored[0].name, '乙方合同 Bravo');

  // Elsewhere, after a reload, the saved link brings the search back.
  await go(page, '#/records');
  await page.reload();
  await settle(page);
  await page.click('a.saved-apply');
  await page.waitForFunction(() => window.location.hash.includes('Bravo'));
  await settle(page);
  assert.equal(await page.inputValue('#search-q'), `Bravo ${RUN}`);
  assert.equal(await page.inputValue('#filter-type'), 'contract');
  assert.deepEqual(await rowIds(page), [ids.Bravo]);
  // Another user does not see it.
  await signOut(page);
  await signIn(page, server.origin, 'lena');
  await go(page, '#/records');
  assert.equal(await page.locator('a.saved-apply').count(), 0, 'saved searches are per user');
  await signOut(page);
  await signIn(page, server.origin, 'alice');
  await go(page, '#/records');
  await page.click('button.saved-delete');
  await settle(page);
  assert.equal(await page.locator('a.saved-apply').count(), 0, 'deleted');
  assert.deepEqual(pageErrors, []);
  await context.close();
});

test('check-in: bad date and amount stop it on their fields; a server refusal is marked; a dropped Chinese file name goes in', { timeout: 60000 }, async () => {
  const snap = screenshotter('checkin');
  const { page, context, pageErrors } = await newPage();
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/v1/records') posts.push(r.url()); });
  await signIn(page, server.origin, 'alice');
  await go(page, '#/checkin');
  await page.fill('#checkin-title', `2026 年度维保合同 Maintenance ${RUN}`);
  await page.fill('#meta-counterparty', '丁方服务 Delta Services');
  await page.fill('#meta-contractNumber', 'MS-2026-0007');
  // An unfinished date: one digit typed into the date field.
  await page.focus('#meta-signedDate');
  await page.keyboard.type('2');
  await page.fill('#meta-amount', '1,250,000.00');

  // A file dropped on the zone (as a browser hands a dragged file over).
  const NAME = '维保合同正本（2026）.txt';
  await page.evaluate((name) => {
    const dt = new DataTransfer();
    dt.items.add(new File(['维保服务合同正文 Maintenance contract.\n'], name, { type: 'text/plain' }));
    dt.items.add(new File(['draft'], '草稿 draft.txt', { type: 'text/plain' }));
    // Named after the contract: it becomes that file's signature.
    dt.items.add(new File(['not really CMS'], `${name}.p7s`, { type: 'application/pkcs7-signature' }));
    const zone = document.getElementById('checkin-files-zone');
    for (const type of ['dragenter', 'dragover', 'drop']) zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, NAME);
  await page.locator('.file-list tbody tr').nth(1).waitFor();
  assert.equal(await page.locator('.file-list tbody tr').count(), 2, 'the signature is no file of its own');
  assert.equal(await page.textContent(`.file-list tr[data-file="${NAME}"] .sig-name`), `${NAME}.p7s`, 'the signature goes with its file');
  await page.click(`button[aria-label="移除 草稿 draft.txt"]`);
  assert.deepEqual(await page.locator('.file-list tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.file)), [NAME], 'the removed file is gone');

  await page.click('#checkin-submit');
  await page.locator('.status-area .notice-error').waitFor();
  for (const [id, words] of [['#meta-signedDate', /签订日期.*没有填完整/], ['#meta-amount', /金额.*十进制/]]) {
    assert.equal(await page.getAttribute(id, 'aria-invalid'), 'true', `${id} is marked`);
    const message = page.locator(`${id} + .field-error`);
    assert.ok(await message.isVisible(), `${id}: a message under the field`);
    assert.match(await message.textContent(), words);
    const described = (await page.getAttribute(id, 'aria-describedby')).split(' ');
    assert.ok(described.includes(await message.getAttribute('id')), `${id}: the message describes the field`);
  }
  assert.match(await page.textContent('.status-area .notice-error'), /另有 1 处/);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'meta-signedDate', 'the first field in error has the focus');
  assert.equal(await page.locator('.progress').isVisible(), false, 'no upload started');
  assert.deepEqual(posts, [], 'nothing was sent');
  await snap(page, 'checked-before-upload');

  // Corrected, the marks go as the fields are typed into.
  await page.fill('#meta-signedDate', '2026-02-01');
  await page.fill('#meta-amount', '1250000.00');
  assert.equal(await page.getAttribute('#meta-signedDate', 'aria-invalid'), null, 'the corrected date is no longer marked');
  assert.equal(await page.getAttribute('#meta-amount', 'aria-invalid'), null, 'the corrected amount is no longer marked');

  // 400 Chinese characters: within the field's 1,000 characters, beyond the
  // server's 1,000 bytes. The server's refusal is marked on the field.
  await page.fill('#meta-counterparty', '丁'.repeat(400));
  await page.click('#checkin-submit');
  await page.locator('.status-area .notice-error').waitFor();
  assert.equal(posts.length, 1, 'this one went to the server');
  assert.equal(await page.getAttribute('#meta-counterparty', 'aria-invalid'), 'true', 'the server named the field');
  assert.match(await page.textContent('#meta-counterparty + .field-error'), /合同相对方/);
  assert.match(await page.textContent('.progress-text'), /上传失败/);
  assert.equal(await page.locator('.progress.progress-failed').count(), 1);

  await page.fill('#meta-counterparty', '丁方服务 Delta Services');
  await page.click('#checkin-submit');
  await page.waitForFunction(() => /^#\/records\/CT-\d{4}-\d{6}$/.test(window.location.hash));
  await settle(page);
  const recordId = (await page.textContent('#record-id')).trim();
  const token = await apiSignIn(server, 'alice');
  const record = (await apiCall(server, 'GET', `/v1/records/${recordId}`, { token })).data;
  assert.deepEqual(record.versions[0].files.map((f) => f.name), [NAME], 'the Chinese name is kept byte for byte');
  assert.equal(record.versions[0].files[0].signature.status, 'invalid', 'the signature was sent with its file (and does not verify)');
  assert.equal(record.metadata.amount, '1250000.00');
  assert.equal(record.metadata.signedDate, '2026-02-01');
  await snap(page, 'checked-in');
  assert.deepEqual(pageErrors, []);
  await context.close();
});
