// Reading without downloading, in a real browser against a real custosd
// (docs/ui.md "Previews", "Version comparison", "Loan page"): an archivist
// sees the first-page thumbnail of a 3-page PDF with Chinese text and
// pages through it (buttons and keyboard); staff who may not read the
// record sees no thumbnail, a disabled download with the reason and the
// 申请借阅 link beside it, and the preview API refuses them; the two
// versions of a contract are compared side by side with the removed and
// added runs marked; a staff loan of a confidential record is approved and
// checked out, and the copy downloaded from the loan page is stamped: its
// text (pdftotext) carries the loan id and `custosctl trace` names the loan.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, settle, go, apiCall, apiSignIn, sha256, binDir,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Sales'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
];

// A run mark keeps each run's content its own.
const RUN = `R${Date.now().toString(36)}`;

// ---- PDFs with a Chinese text layer ---------------------------------------
// As tests/extract/make_documents.py writes them: the predefined CJK font
// STSong-Light with the CMap UniGB-UCS2-H, and an ASCII line in Helvetica.

function ucs2Hex(text) {
  return [...text].map((c) => c.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')).join('');
}

function pdfWithPages(pageLines) {
  const objects = [];
  const add = (body) => { objects.push(body); return objects.length; };
  const catalog = add(null);
  const pages = add(null);
  const descriptor = add('<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900] '
    + '/ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>');
  const cid = add('<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo << /Registry (Adobe) '
    + `/Ordering (GB1) /Supplement 2 >> /FontDescriptor ${descriptor} 0 R /DW 1000 >>`);
  const cjk = add(`<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H /DescendantFonts [${cid} 0 R] >>`);
  const helvetica = add('<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>');
  const kids = [];
  for (const [chinese, ascii] of pageLines) {
    const content = `BT /F1 28 Tf 72 760 Td <${ucs2Hex(chinese)}> Tj ET\nBT /F2 18 Tf 72 700 Td (${ascii}) Tj ET`;
    const stream = add(`<< /Length ${Buffer.byteLength(content)} >>\nstream\n${content}\nendstream`);
    kids.push(add(`<< /Type /Page /Parent ${pages} 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 ${cjk} 0 R /F2 ${helvetica} 0 R >> >> /Contents ${stream} 0 R >>`));
  }
  objects[catalog - 1] = `<< /Type /Catalog /Pages ${pages} 0 R >>`;
  objects[pages - 1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(' ')}] /Count ${kids.length} >>`;
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => { offsets.push(Buffer.byteLength(out)); out += `${i + 1} 0 obj\n${body}\nendobj\n`; });
  const xref = Buffer.byteLength(out);
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root ${catalog} 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const CONTRACT_PDF = {
  name: '合同正文-contract.pdf', type: 'application/pdf',
  data: pdfWithPages([['第一页 供货合同', `Page 1 of 3 ${RUN}`], ['第二页 价格条款', `Page 2 of 3 ${RUN}`], ['第三页 签字盖章', `Page 3 of 3 ${RUN}`]]),
};
const TERMS_V1 = `第五条 价格调整为百分之五。Penalty of 5% per day. ${RUN}\n`;
const TERMS_V2 = `第五条 价格调整为百分之八。Penalty of 8% per day. ${RUN}\n`;
const TERMS = (text) => ({ name: '条款-terms.txt', type: 'text/plain', data: Buffer.from(text, 'utf8') });
const ANNEX_TEXT = `附件一 交货地点：上海。Delivery in Shanghai. ${RUN}\n`;
const ANNEX = { name: '附件-annex.txt', type: 'text/plain', data: Buffer.from(ANNEX_TEXT, 'utf8') };
const NDA_PDF = {
  name: '保密协议-nda.pdf', type: 'application/pdf',
  data: pdfWithPages([['保密协议 第一页', `Confidential page 1 ${RUN}`], ['保密协议 第二页', `Confidential page 2 ${RUN}`]]),
};

let archive;
let server;
let browser;
let contractId;
let ndaId;

async function checkIn(token, metadata, files) {
  const parts = [{ name: 'metadata', type: 'application/json', data: JSON.stringify(metadata) }];
  for (const f of files) parts.push({ name: 'file', filename: f.name, type: f.type, data: f.data });
  return (await apiCall(server, 'POST', '/v1/records', { token, multipart: parts })).data.id;
}

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  browser = await launchBrowser();
  const alice = await apiSignIn(server, 'alice');
  contractId = await checkIn(alice, {
    type: 'contract', title: `2026 年度供货合同 Supply agreement ${RUN}`, department: 'Sales', classification: 'internal',
    metadata: { counterparty: '示例供应有限公司 Example Supplies', contractNumber: 'ES-2026-0025', signedDate: '2026-03-01', endDate: '2028-02-28' },
  }, [CONTRACT_PDF, TERMS(TERMS_V1)]);
  // A catalogue change between the two check-ins, which the comparison lists.
  await apiCall(server, 'PATCH', `/v1/records/${contractId}`, { token: alice, json: { title: `2026 年度供货合同（修订）Supply agreement ${RUN}` } });
  await apiCall(server, 'POST', `/v1/records/${contractId}/versions`, {
    token: alice,
    multipart: [{ name: 'metadata', type: 'application/json', data: JSON.stringify({ kind: 'amendment', note: '价格调整' }) },
      ...[CONTRACT_PDF, TERMS(TERMS_V2), ANNEX].map((f) => ({ name: 'file', filename: f.name, type: f.type, data: f.data }))],
  });
  ndaId = await checkIn(alice, {
    type: 'contract', title: `保密协议 NDA ${RUN}`, department: 'Sales', classification: 'confidential',
    metadata: { counterparty: '示例科技 Example Tech', contractNumber: 'NDA-2026-7', signedDate: '2026-04-01', endDate: '2029-03-31' },
  }, [NDA_PDF]);
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

// The record page reloaded until every file has left the pipeline's queue
// (the preview's page count comes from the pipeline). The deadline bounds
// a hang; it measures nothing.
async function waitForPipeline(page, recordId, files) {
  const deadline = Date.now() + 60000;
  for (;;) {
    await go(page, '#/records');
    await go(page, `#/records/${recordId}`);
    const states = await page.locator('.extraction-state').evaluateAll((els) => els.map((e) => e.dataset.state));
    if (states.length === files && states.every((s) => s === 'text')) return;
    if (Date.now() > deadline) throw new Error(`the pipeline did not finish: ${states.join(', ')}`);
    await new Promise((r) => { setTimeout(r, 500); });
  }
}

function versionItem(page, n) {
  return page.locator(`#version-${n}`);
}

function fileRow(scope, name) {
  return scope.locator(`tbody tr:has(.file-name:text-is("${name}"))`);
}

async function viewerAt(page, n) {
  await page.waitForFunction((p) => {
    const v = document.querySelector('.viewer');
    return v && v.dataset.loaded === String(p) && !v.hasAttribute('aria-busy');
  }, n);
  return page.locator('.viewer');
}

test('previews, comparison, refusal and a stamped loan copy', { timeout: 120000 }, async () => {
  const snap = screenshotter('preview');
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 }, locale: 'zh-CN', timezoneId: 'Asia/Shanghai', acceptDownloads: true,
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) pageErrors.push(m.text()); });
  const { origin } = server;

  // --- the archivist: thumbnail and page viewer ---------------------------
  await signIn(page, origin, 'alice');
  await waitForPipeline(page, contractId, 5);
  const v2 = versionItem(page, 2);
  const thumb = fileRow(v2, CONTRACT_PDF.name).locator('button[data-action=thumb]');
  await thumb.scrollIntoViewIfNeeded();  // thumbnails load when they come into view
  await page.waitForFunction(() => document.querySelector('#version-2 button[data-action=thumb]')?.dataset.state === 'loaded');
  const thumbImg = thumb.locator('img');
  assert.equal(await thumbImg.getAttribute('alt'), `${CONTRACT_PDF.name} 第 1 页的缩略图`);
  assert.match(await thumbImg.getAttribute('src'), /^data:image\/png;base64,/);
  assert.equal(await thumbImg.evaluate((img) => img.naturalWidth), 240, 'a thumbnail is 240 px wide');
  assert.equal(await fileRow(v2, TERMS(TERMS_V2).name).locator('.thumb').count(), 0, 'a text file has no thumbnail');
  await snap(page, 'record-thumbnail');

  await thumb.click();
  let viewer = await viewerAt(page, 1);
  assert.equal((await viewer.locator('.viewer-pos').textContent()).trim(), '第 1 页，共 3 页');
  assert.equal(await viewer.locator('.viewer-img').getAttribute('alt'), `${CONTRACT_PDF.name} 第 1 页（共 3 页）`);
  assert.equal(await viewer.locator('.viewer-img').evaluate((img) => img.naturalWidth), 1200, 'a page image is 1200 px wide');
  assert.ok(await viewer.locator('button[data-action=prev-page]').isDisabled(), 'no page before the first');
  assert.ok(await viewer.locator('.viewer-frame').evaluate((el) => el === document.activeElement), 'the focus is on the page');
  const first = await viewer.locator('.viewer-img').getAttribute('src');
  await viewer.locator('button[data-action=next-page]').click();
  viewer = await viewerAt(page, 2);
  assert.equal((await viewer.locator('.viewer-pos').textContent()).trim(), '第 2 页，共 3 页');
  assert.notEqual(await viewer.locator('.viewer-img').getAttribute('src'), first, 'page 2 is another image');
  await snap(page, 'record-viewer-page-2');
  // The keyboard: → to the last page, Home back to the first, Esc closes.
  await viewer.locator('.viewer-frame').focus();
  await page.keyboard.press('ArrowRight');
  viewer = await viewerAt(page, 3);
  assert.ok(await viewer.locator('button[data-action=next-page]').isDisabled(), 'no page after the last');
  assert.equal(await viewer.locator('.viewer-img').getAttribute('alt'), `${CONTRACT_PDF.name} 第 3 页（共 3 页）`);
  await page.keyboard.press('Home');
  await viewerAt(page, 1);
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.viewer').count(), 0, 'Escape closes the viewer');

  // The catalogue: a small first-page thumbnail beside each readable hit.
  await go(page, `#/records?q=${RUN}`);
  await page.waitForFunction((id) => document.querySelector(`.thumb-small[data-record="${id}"]`)?.dataset.state === 'loaded', contractId);
  assert.equal(await page.locator(`.thumb-small[data-record="${contractId}"] img`).getAttribute('alt'), `${contractId} 的首页缩略图（${CONTRACT_PDF.name}）`);
  await snap(page, 'catalogue-thumbnails');

  // Every page seen is a logged read of the content.
  await go(page, '#/records');
  await go(page, `#/records/${contractId}`);
  const history = await page.locator('table[aria-label="操作历史（审计日志）"]').textContent();
  assert.match(history, new RegExp(`预览第 2 版文件 ${CONTRACT_PDF.name.replace('.', '\\.')} 第 2 页`), 'a previewed page is in the history');

  // --- the comparison, side by side ----------------------------------------
  await page.selectOption('#compare-from', '1');
  await page.selectOption('#compare-to', '2');
  await page.click('#compare-submit');
  await page.waitForFunction((id) => window.location.hash === `#/records/${id}/compare?from=1&to=2`, contractId);
  await settle(page);
  assert.equal((await page.locator('#page-title').textContent()).trim(), '版本比较');
  const change = async (name) => page.locator(`table[aria-label="文件变化"] tbody tr:has(.file-name:text-is("${name}")) .file-change`).getAttribute('data-change');
  assert.equal(await change(TERMS(TERMS_V1).name), 'changed');
  assert.equal(await change(ANNEX.name), 'added');
  assert.equal(await change(CONTRACT_PDF.name), 'unchanged');
  const terms = page.locator(`.compare-file[data-file="${TERMS(TERMS_V1).name}"]`);
  assert.deepEqual(await terms.locator('.diff-old del').evaluateAll((els) => els.map((e) => e.childNodes[1].textContent)), ['五', '5']);
  assert.deepEqual(await terms.locator('.diff-new ins').evaluateAll((els) => els.map((e) => e.childNodes[1].textContent)), ['八', '8']);
  // Each side, read without the screen-reader words, is exactly its text.
  const plain = (loc) => loc.evaluate((el) => {
    const c = el.cloneNode(true);
    c.querySelectorAll('.sr-only').forEach((s) => s.remove());
    return c.textContent;
  });
  assert.equal(await plain(terms.locator('.diff-old')), TERMS_V1);
  assert.equal(await plain(terms.locator('.diff-new')), TERMS_V2);
  assert.match(await terms.locator('.diff-old del').first().textContent(), /^［删除：五］$/, 'a removed run is named for screen readers');
  assert.match(await terms.locator('.diff-new ins').first().textContent(), /^［新增：八］$/, 'an added run is named for screen readers');
  const delStyle = await terms.locator('.diff-old del').first().evaluate((el) => {
    const s = getComputedStyle(el);
    return { line: s.textDecorationLine, bg: s.backgroundColor };
  });
  assert.match(delStyle.line, /line-through/);
  assert.notEqual(delStyle.bg, 'rgba(0, 0, 0, 0)', 'a removed run has a background');
  const annexNew = page.locator(`.compare-file[data-file="${ANNEX.name}"] .diff-new`);
  assert.equal(await plain(annexNew), ANNEX_TEXT, 'an added file shows all its text as added');
  assert.equal(await annexNew.locator('ins').count(), 1);
  assert.equal((await page.locator(`.compare-file[data-file="${ANNEX.name}"] .diff-absent`).textContent()).trim(), '第 1 版没有这个文件。');
  const pdfSame = page.locator(`.compare-file[data-file="${CONTRACT_PDF.name}"] details.diff-same`);
  assert.equal(await pdfSame.evaluate((d) => d.open), false, 'an unchanged text is folded away');
  assert.match(await page.locator(`.compare-file[data-file="${CONTRACT_PDF.name}"] .diff-summary`).textContent(), /文本相同/);
  assert.match(await page.locator('table[aria-label="著录变化"]').textContent(), /题名/, 'the title change between the check-ins is listed');
  assert.match(await page.locator('#compare-logged').textContent(), /审计日志/);
  await snap(page, 'compare');
  await page.click('.lang-switch');
  await settle(page);
  assert.equal((await page.locator('#page-title').textContent()).trim(), 'Version comparison');
  assert.match(await page.locator(`.compare-file[data-file="${TERMS(TERMS_V1).name}"] .diff-old del`).first().textContent(), /^\[removed: 五\]$/);
  await page.click('.lang-switch');
  await settle(page);
  await signOut(page);

  // --- staff who may not read: no thumbnail, disabled download, loan link ---
  await signIn(page, origin, 'bob');
  await go(page, `#/records/${contractId}`);
  assert.equal(await page.locator('.thumb').count(), 0, 'no thumbnail for a caller who may not read');
  await go(page, `#/records?q=${RUN}`);
  assert.ok(await page.locator(`a[href="#/records/${contractId}"]`).count() >= 1, 'staff finds the record');
  assert.equal(await page.locator('.thumb-small').count(), 0, 'no catalogue thumbnail for a caller who may not read');
  await go(page, `#/records/${contractId}`);
  assert.equal(await page.locator('button[data-action=preview]').count(), 0, 'no preview offered');
  assert.equal(await page.locator('#compare-form').count(), 0, 'no comparison offered');
  const row = fileRow(versionItem(page, 2), CONTRACT_PDF.name);
  const download = row.locator('button[data-action=download]');
  assert.ok(await download.isDisabled(), 'the download is disabled');
  const reasonId = await download.getAttribute('aria-describedby');
  assert.match(await page.locator(`#${reasonId}`).textContent(), /需要一份已批准、尚未到期的电子借阅/, 'the reason is given beside the button');
  const borrowLink = row.locator('.file-actions a[data-action=borrow-link]');
  assert.equal((await borrowLink.textContent()).trim(), '申请借阅');
  assert.equal(await borrowLink.getAttribute('href'), `#/records/${contractId}/borrow`);
  await snap(page, 'record-staff');
  const bobToken = await page.evaluate(() => sessionStorage.getItem('custos.token'));
  const pdfId = (await apiCall(server, 'GET', `/v1/records/${contractId}`, { token: bobToken })).data.versions[1].files
    .find((f) => f.name === CONTRACT_PDF.name).id;
  await assert.rejects(apiCall(server, 'GET', `/v1/records/${contractId}/versions/2/files/${pdfId}/preview?page=1&size=thumb`, { token: bobToken }),
    /403.*content_forbidden/, 'the preview API refuses a caller who may not read');

  // --- a loan of the confidential record: request, approval, checkout ------
  await go(page, `#/records/${ndaId}`);
  await fileRow(page, NDA_PDF.name).locator('a[data-action=borrow-link]').click();
  await settle(page);
  await page.selectOption('#loan-kind', 'digital');
  await page.fill('#loan-purpose', '核对保密条款 check the clauses');
  await page.click('#request-loan');
  await page.waitForFunction(() => /^#\/loans\/[A-Za-z0-9._-]+$/.test(window.location.hash));
  await settle(page);
  const loanId = decodeURIComponent(page.url().split('#/loans/')[1]);
  await signOut(page);
  await signIn(page, origin, 'carol');
  await go(page, `#/loans/${loanId}`);
  await page.click(`button[data-action=approve][data-loan="${loanId}"]`);
  await page.locator('#loan-state').filter({ hasText: '借出中' }).waitFor();
  await signOut(page);

  // --- the borrower on the loan page: preview and a stamped copy ----------
  await signIn(page, origin, 'bob');
  await go(page, `#/loans/${loanId}`);
  const files = page.locator('table[aria-label="借阅的文件"]');
  await fileRow(files, NDA_PDF.name).locator('button[data-action=preview]').click();
  viewer = await viewerAt(page, 1);
  assert.equal((await viewer.locator('.viewer-pos').textContent()).trim(), '第 1 页，共 2 页');
  const [saved] = await Promise.all([
    page.waitForEvent('download'),
    fileRow(files, NDA_PDF.name).locator('button[data-action=download]').click(),
  ]);
  const copyPath = path.join(archive.tmp, 'stamped-copy.pdf');
  await saved.saveAs(copyPath);
  const notice = page.locator('.status-area .notice-warn');
  await notice.waitFor();
  const said = await notice.textContent();
  assert.ok(said.includes('可追溯副本') && said.includes(loanId), `the page says the copy is traceable to the loan: ${said}`);
  await snap(page, 'loan-stamped-copy');
  const copy = fs.readFileSync(copyPath);
  assert.notEqual(sha256(copy), sha256(NDA_PDF.data), 'the copy is not the original');
  const text = execFileSync('pdftotext', [copyPath, '-'], { encoding: 'utf8' });
  assert.ok(text.includes(loanId), `the copy's text carries the loan id: ${text.slice(0, 400)}`);
  const trace = spawnSync(path.join(binDir, 'custosctl'), ['trace', copyPath, '--data', archive.dataDir], { encoding: 'utf8' });
  assert.equal(trace.status, 0, `custosctl trace finds the copy: ${trace.stdout}${trace.stderr}`);
  assert.ok(trace.stdout.includes(loanId), `custosctl trace names the loan: ${trace.stdout}`);
  assert.match(trace.stdout, /\bbob\b/, 'and the borrower');
  await signOut(page);

  assert.deepEqual(pageErrors, [], 'no script error or policy violation on any page');
  await context.close();
});
