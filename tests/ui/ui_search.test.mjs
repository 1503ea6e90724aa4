// Content search in a real browser against a real custosd whose content
// pipeline runs in the background (docs/search.md): an archivist's record
// holds a Chinese text file whose content (made at run time) says 价格调整
// and a text file claimed as image/png. The record page shows the
// extraction status and the type mismatch; the search box finds the record
// by its content, in simplified and in traditional characters, with the
// matched word marked; "Show text" shows the extracted text as text; a
// staff member without a loan sees the record through its title but no
// content match and no snippet, and is not led to it by its content; with
// an approved digital loan the same staff member gets both, and the text.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, settle, go, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Sales'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
];

// Content made at run time: a run mark keeps each run's text its own.
const RUN = `R${Date.now().toString(36)}`;
const ANNEX_TEXT = `第三条 价格调整\n甲方每年一月按原材料指数对供货单价进行价格调整，调整幅度不超过 5%。\nClause 3: price adjustment, run ${RUN}.\n`;
const ANNEX = { name: 'annex-条款.txt', type: 'text/plain', data: Buffer.from(ANNEX_TEXT, 'utf8') };
// Claimed to be a PNG, but its bytes are plain text.
const FAKE_PNG = { name: 'scan-扫描件.png', type: 'image/png', data: Buffer.from(`这不是图片，而是一段纯文本。Not an image, ${RUN}.\n`, 'utf8') };
// The title holds 供货 (a catalogue match anyone who sees the record gets)
// and not 价格调整 (which only the content holds).
const TITLE = `2026 年度供货合同 Supply agreement ${RUN}`;

let archive;
let server;
let browser;
let recordId;

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  browser = await launchBrowser();
  const token = await apiSignIn(server, 'alice');
  const parts = [{
    name: 'metadata', type: 'application/json', data: JSON.stringify({
      type: 'contract', title: TITLE, department: 'Sales', classification: 'internal',
      metadata: { counterparty: '示例供应有限公司 Example Supplies', contractNumber: 'ES-2026-0024', signedDate: '2026-03-01', endDate: '2028-02-28' },
    }),
  }];
  for (const f of [ANNEX, FAKE_PNG]) parts.push({ name: 'file', filename: f.name, type: f.type, data: f.data });
  recordId = (await apiCall(server, 'POST', '/v1/records', { token, multipart: parts })).data.id;
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

// The record page reloaded until both files have left the pipeline's queue
// (the extraction runs in the background, some seconds after the check-in).
// The deadline is generous: it bounds a hang, it measures nothing.
async function waitForExtraction(page) {
  const deadline = Date.now() + 120000;
  for (;;) {
    await go(page, '#/records');
    await go(page, `#/records/${recordId}`);
    const states = await page.locator('.extraction-state').evaluateAll((els) => els.map((e) => e.dataset.state));
    if (states.length === 2 && states.every((s) => s !== 'pending' && s !== 'retry')) return states;
    if (Date.now() > deadline) throw new Error(`extraction did not finish: ${states.join(', ')}`);
    await new Promise((r) => { setTimeout(r, 1000); });
  }
}

function fileRow(page, name) {
  return page.locator('table tbody tr', { has: page.locator('.file-name', { hasText: name }) });
}

async function search(page, words) {
  await go(page, '#/records');
  await page.fill('#search-q', words);
  await page.click('#search-submit');
  await page.waitForFunction((w) => new URLSearchParams(window.location.hash.split('?')[1] || '').get('q') === w, words);
  await settle(page);
}

function hitRow(page) {
  return page.locator('tbody tr', { has: page.locator(`a[href="#/records/${recordId}"]`) });
}

test('content search: status, type mismatch, marked snippets, traditional forms, the text view and a reader without a loan', { timeout: 300000 }, async () => {
  const snap = screenshotter('search');
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai',
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  const { origin } = server;

  // --- the archivist waits for the pipeline on the record page -----------
  await signIn(page, origin, 'alice');
  const states = await waitForExtraction(page);
  const annexRow = fileRow(page, ANNEX.name);
  const pngRow = fileRow(page, FAKE_PNG.name);
  assert.equal(await annexRow.locator('.extraction-state').getAttribute('data-state'), 'text', `states: ${states}`);
  assert.match(await annexRow.locator('.extraction-state').textContent(), /已提取文本/);
  assert.equal(await annexRow.locator('.type-mismatch').count(), 0, 'a text file claimed as text has no warning');
  // The file claimed as image/png whose bytes are text: the identified type
  // beside the claimed one and a visible warning.
  const warning = pngRow.locator('.type-mismatch');
  assert.ok(await warning.isVisible(), 'the type mismatch is shown');
  const warningText = await warning.textContent();
  assert.match(warningText, /类型不符/, warningText);
  assert.match(warningText, /声明为 image\/png/, warningText);
  assert.match(warningText, /识别为 text\/plain/, warningText);
  assert.match(await pngRow.textContent(), /识别为 text\/plain/);
  await snap(page, 'record-extracted');

  // --- "Show text": the extracted text in a <pre>, as text -------------
  await annexRow.locator('button[data-action=show-text]').click();
  const pre = page.locator('pre.extracted-text');
  await pre.waitFor();
  assert.equal(await pre.textContent(), ANNEX_TEXT, 'the text shown is the file\'s text');
  assert.equal(await pre.evaluate((el) => el.children.length), 0, 'the text is text, no element comes of it');
  assert.match(await page.locator('.text-area h4').textContent(), /提取文本/);
  await snap(page, 'record-text');

  // --- the search box finds the record by its content ------------------
  await search(page, '价格调整');
  const hit = hitRow(page);
  assert.equal(await hit.count(), 1, 'the record is a hit through its content');
  const content = hit.locator('.hit-match[data-field=content]');
  assert.ok(await content.count() >= 1, 'the hit says it matched in the content');
  assert.equal((await content.first().locator('.match-field').textContent()).trim(), '正文');
  assert.match(await content.first().locator('.match-where').textContent(), new RegExp(`第 1 版 · ${ANNEX.name.replace('.', '\\.')}`));
  const marks = await content.first().locator('.snippet mark').allTextContents();
  assert.ok(marks.includes('价格调整'), `the matched word is marked: ${JSON.stringify(marks)}`);
  assert.equal(await hit.locator('.hit-match[data-field=title]').count(), 0, 'the title does not hold 价格调整');
  await snap(page, 'search-content');

  // Traditional characters find the simplified text.
  await search(page, '價格調整');
  assert.equal(await hitRow(page).count(), 1, 'the traditional form finds the record');
  const tradMarks = await hitRow(page).locator('.hit-match[data-field=content] .snippet mark').allTextContents();
  assert.ok(tradMarks.includes('价格调整'), `the document's own words are marked: ${JSON.stringify(tradMarks)}`);
  await snap(page, 'search-traditional');

  // A catalogue match: the title, its word marked in the title itself
  // (a title shown whole needs no match line of its own).
  await search(page, '供货');
  const titleMarks = await hitRow(page).locator('.title-cell mark').allTextContents();
  assert.ok(titleMarks.includes('供货'), `the title's word is marked: ${JSON.stringify(titleMarks)}`);
  assert.equal(await hitRow(page).locator('.hit-match[data-field=title]').count(), 0, 'no second line for the title');

  // The history names the new events in words.
  await go(page, `#/records/${recordId}`);
  const history = await page.locator('table[aria-label="操作历史（审计日志）"]').textContent();
  assert.match(history, /检索显示内容摘要/, 'content.snippet is labelled');
  assert.match(history, new RegExp(`读取第 1 版文件 ${ANNEX.name.replace('.', '\\.')} 的提取文本`), 'a read of the text says so');

  // English labels.
  await page.click('.lang-switch');
  await settle(page);
  assert.match(await fileRow(page, FAKE_PNG.name).locator('.type-mismatch').textContent(), /Type mismatch: claimed image\/png, identified text\/plain/);
  assert.match(await fileRow(page, ANNEX.name).locator('.extraction-state').textContent(), /Text extracted/);
  await search(page, '价格调整');
  assert.equal((await hitRow(page).locator('.hit-match[data-field=content] .match-field').first().textContent()).trim(), 'Content');
  await page.click('.lang-switch');
  await settle(page);
  await signOut(page);

  // --- staff without a loan: the record, but nothing of its content ----
  await signIn(page, origin, 'bob');
  await search(page, '供货');
  const bobHit = hitRow(page);
  assert.equal(await bobHit.count(), 1, 'staff of the department sees the record through its title');
  assert.equal(await bobHit.locator('.hit-match[data-field=content]').count(), 0, 'no content match for a caller who may not read it');
  assert.doesNotMatch(await bobHit.textContent(), /价格|调整|纯文本|图片/, 'no word of the content in the hit');
  await snap(page, 'search-staff');
  await search(page, '价格调整');
  assert.equal(await hitRow(page).count(), 0, 'the content leads a caller without a loan to nothing');
  assert.match(await page.locator('main').textContent(), /没有符合条件的档案/);
  await go(page, `#/records/${recordId}`);
  assert.match(await fileRow(page, ANNEX.name).locator('.extraction-state').textContent(), /已提取文本/, 'the status is shown to whoever sees the record');
  assert.equal(await page.locator('button[data-action=show-text]').count(), 0, 'no text view without the right to read');
  // The text route itself refuses: 403 content_forbidden, whose message the UI has.
  const bobToken = await page.evaluate(() => sessionStorage.getItem('custos.token'));
  const fileId = (await apiCall(server, 'GET', `/v1/records/${recordId}`, { token: bobToken })).data.versions[0].files[0].id;
  await assert.rejects(apiCall(server, 'GET', `/v1/records/${recordId}/versions/1/files/${fileId}/text`, { token: bobToken }), /403.*content_forbidden/);
  await snap(page, 'record-staff');

  // --- the same staff member with an approved digital loan -------------
  const loan = (await apiCall(server, 'POST', '/v1/loans', {
    token: bobToken, json: { recordId, kind: 'digital', purpose: '核对价格条款', dueAt: new Date(Date.now() + 7 * 86400000).toISOString() },
  })).data.id;
  await apiCall(server, 'POST', `/v1/loans/${loan}/approve`, { token: await apiSignIn(server, 'carol') });
  await search(page, '价格调整');
  assert.equal(await hitRow(page).count(), 1, 'the loan makes the content searchable for its borrower');
  assert.ok((await hitRow(page).locator('.hit-match[data-field=content] .snippet mark').allTextContents()).includes('价格调整'));
  await go(page, `#/records/${recordId}`);
  await fileRow(page, ANNEX.name).locator('button[data-action=show-text]').click();
  await page.locator('pre.extracted-text').waitFor();
  assert.equal(await page.locator('pre.extracted-text').textContent(), ANNEX_TEXT, 'the borrower reads the text');
  await go(page, '#/records');
  await go(page, `#/records/${recordId}`);
  const bobHistory = await page.locator('table[aria-label="操作历史（审计日志）"]').textContent();
  assert.match(bobHistory, new RegExp(`凭借阅 ${loan} 读取第 1 版文件 ${ANNEX.name.replace('.', '\\.')} 的提取文本`), 'the read names the loan');
  await snap(page, 'record-staff-loan');
  await signOut(page);

  assert.deepEqual(pageErrors, [], 'no script error on any page');
  await context.close();
});
