// Scheduled verification in the browser: custosd verifies every second
// (audit.verify_interval = 1s); a blob byte changed behind its back shows on
// the alerts page of the auditor and of the admin, naming the file, and not
// on the archivist's. A record row changed with SQL behind its back is
// refused when read (500 row_integrity) and shows on the same page as a
// row integrity alert.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, go, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Archive'],
  ['ada', 'auditor', 'Audit'],
];

let archive;
let server;
let browser;
let recordId;

// Flips a byte near the end of the only committed blob.
function damageTheBlob(dataDir) {
  const blobs = path.join(dataDir, 'blobs');
  const files = fs.readdirSync(blobs).filter((d) => d !== 'tmp')
    .flatMap((d) => fs.readdirSync(path.join(blobs, d)).map((f) => path.join(blobs, d, f)));
  assert.equal(files.length, 1, 'one blob');
  const bytes = fs.readFileSync(files[0]);
  bytes[bytes.length - 5] ^= 1;
  fs.writeFileSync(files[0], bytes);
}

async function metricsShowAFinding() {
  for (let i = 0; i < 150; i++) {
    const res = await apiCall(server, 'GET', '/metrics');
    if (/^custos_verify_findings [1-9]/m.test(String(res.data))) return true;
    await new Promise((r) => { setTimeout(r, 100); });
  }
  return false;
}

before(async () => {
  archive = makeArchive(USERS);
  const conf = path.join(archive.dataDir, 'custos.conf');
  fs.writeFileSync(conf, fs.readFileSync(conf, 'utf8')
    .replace(/^audit\.verify_interval = .*$/m, 'audit.verify_interval = 1s')
    .replace(/^audit\.full_verify_interval = .*$/m, 'audit.full_verify_interval = 1s'));
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  const alice = await apiSignIn(server, 'alice');
  const res = await apiCall(server, 'POST', '/v1/records', {
    token: alice,
    multipart: [{ name: 'metadata', type: 'application/json', data: JSON.stringify({
      type: 'contract', title: '仓储合同', department: 'Archive', classification: 'internal',
      metadata: { counterparty: '华东物流', contractNumber: 'WH-1', signedDate: '2026-02-01', endDate: '2031-01-31' },
    }) }, { name: 'file', filename: '仓储合同.pdf', type: 'application/pdf', data: '%PDF-1.4 warehouse' }],
  });
  assert.equal(res.status, 201);
  recordId = res.data.id;
  damageTheBlob(archive.dataDir);
  assert.ok(await metricsShowAFinding(), 'the scheduled verification found the changed blob');
  // The record's classification lowered with SQL while the server runs: its
  // next read is refused and alerted.
  execFileSync('sqlite3', [path.join(archive.dataDir, 'custos.db'),
    `UPDATE records SET classification = 'public' WHERE id = '${recordId}'`]);
  await assert.rejects(apiCall(server, 'GET', `/v1/records/${recordId}`, { token: alice }), /: 500 .*"row_integrity"/);
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

test('a scheduled verification finding shows on the alerts page of auditors and admins', { timeout: 60000 }, async () => {
  const snap = screenshotter('verification');
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  for (const user of ['ada', 'admin']) {
    await signIn(page, server.origin, user);
    await go(page, '#/alerts');
    const main = await page.textContent('main');
    assert.match(main, /envelope_chunk_tag_mismatch/, `${user} sees the finding's code`);
    assert.match(main, /仓储合同\.pdf/, `${user} sees the file's name`);
    assert.ok(main.includes(recordId), `${user} sees the refused record row`);
    await snap(page, `${user}-alerts`);
    await signOut(page);
  }
  await signIn(page, server.origin, 'alice');
  await go(page, '#/alerts');
  const alicesMain = await page.textContent('main');
  assert.doesNotMatch(alicesMain, /envelope_chunk_tag_mismatch/, 'the archivist sees no finding');
  assert.ok(!alicesMain.includes(recordId), 'nor the refused row');
  assert.deepEqual(pageErrors, []);
  await context.close();
});
