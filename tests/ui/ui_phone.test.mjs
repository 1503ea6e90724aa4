// The phone layout (390 × 844, app.css max-width 600px): the catalogue,
// a record page, the home page and the approvals inbox fit the screen
// (no horizontal scrolling), wide tables are cards whose cells carry their
// column's label, and the navigation hides behind a menu button that opens
// and closes from the keyboard.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, signOut, go, settle, apiCall, apiSignIn,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Sales'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
];
const PHONE = { width: 390, height: 844 };

let archive;
let server;
let browser;
let contract;
const snap = screenshotter('phone');

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  const alice = await apiSignIn(server, 'alice');
  const bob = await apiSignIn(server, 'bob');
  // Long words without spaces in the title, the counterparty and the file
  // name: what would push a table wider than a phone.
  for (let i = 0; i < 3; i += 1) {
    const res = await apiCall(server, 'POST', '/v1/records', {
      token: alice,
      multipart: [
        { name: 'metadata', type: 'application/json', data: JSON.stringify({
          type: 'contract', title: `年度设备采购与维护保养服务框架合同第${i}号 FrameworkAgreementForEquipmentProcurementAndMaintenance${i}`,
          department: 'Sales', classification: 'internal',
          metadata: { counterparty: `上海浦东新区某某精密仪器设备有限公司 ShanghaiPrecisionInstrumentsCo${i}`, contractNumber: `HT-2026-00${i}-SUPPLEMENTARY-AGREEMENT`, signedDate: '2026-03-14', endDate: '2031-03-13', amount: '1250000.00' },
        }) },
        { name: 'file', filename: `采购合同正文及全部附件扫描件_ProcurementContractFullScan_${i}.pdf`, type: 'application/pdf', data: `%PDF-1.4 合同 ${i}` },
      ],
    });
    contract = res.data.id;
  }
  await apiCall(server, 'POST', '/v1/loans', { token: bob, json: { recordId: contract, kind: 'digital', dueAt: new Date(Date.now() + 86400e3).toISOString() } });
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

async function noSidewaysScroll(page, what) {
  const width = await page.evaluate(() => document.scrollingElement.scrollWidth);
  assert.ok(width <= PHONE.width, `${what}: the page is ${width} px wide on a ${PHONE.width} px screen`);
}

test('catalogue, record, home and inbox fit a 390 px screen, tables as labelled cards', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: PHONE });
  const page = await context.newPage();
  await signIn(page, server.origin, 'alice');
  await noSidewaysScroll(page, 'home');
  await go(page, '#/records');
  await page.locator(`a[href="#/records/${contract}"]`).first().waitFor();
  await noSidewaysScroll(page, 'catalogue');
  const cell = page.locator('main table.grid tbody tr').first().locator('td[data-label]').first();
  assert.ok(await cell.count() > 0, 'catalogue cells carry their column label');
  const label = await cell.evaluate((td) => getComputedStyle(td, '::before').content);
  assert.notEqual(label, 'none', 'the label is shown before the cell');
  const rowWidth = await page.locator('main table.grid tbody tr').first().evaluate((tr) => tr.getBoundingClientRect().width);
  assert.ok(rowWidth <= PHONE.width, 'a catalogue row is a card within the screen');
  await snap(page, 'catalogue');
  await go(page, `#/records/${contract}`);
  await noSidewaysScroll(page, 'record page');
  await snap(page, 'record');
  await signOut(page);

  await signIn(page, server.origin, 'carol');
  await go(page, '#/loans?view=inbox');
  await page.locator('input.row-reason').first().waitFor();
  await noSidewaysScroll(page, 'approvals inbox');
  assert.ok(await page.locator('input.row-reason').first().isVisible(), 'the reason field is on screen');
  await snap(page, 'inbox');
  await context.close();
});

test('the navigation opens from the menu button with the keyboard and closes with Escape', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: PHONE });
  const page = await context.newPage();
  await signIn(page, server.origin, 'bob');
  assert.equal(await page.locator('nav.sidebar').isVisible(), false, 'the navigation is folded away');
  const toggle = page.locator('#nav-toggle');
  assert.equal(await toggle.isVisible(), true);
  assert.equal(await toggle.getAttribute('aria-expanded'), 'false');
  assert.match(await toggle.textContent(), /菜单/, 'the button says what it is');
  // Reach it with Tab from the top of the page.
  await page.focus('a.brand');
  let reached = false;
  for (let i = 0; i < 10 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.id === 'nav-toggle');
  }
  assert.ok(reached, 'Tab reaches the menu button');
  await page.keyboard.press('Enter');
  assert.equal(await page.locator('nav.sidebar').isVisible(), true, 'Enter opens the navigation');
  assert.equal(await toggle.getAttribute('aria-expanded'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.closest('nav.sidebar') !== null), true, 'focus moves into it');
  await noSidewaysScroll(page, 'open navigation');
  await snap(page, 'menu-open');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('nav.sidebar').isVisible(), false, 'Escape closes it');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'nav-toggle', 'focus returns to the button');
  // Space opens it again; a link followed from the keyboard goes there.
  await page.keyboard.press('Space');
  const mine = page.locator('nav.sidebar a[href="#/loans?view=mine"]');
  await mine.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.location.hash === '#/loans?view=mine');
  await settle(page);
  assert.equal(await page.locator('nav.sidebar').isVisible(), false, 'the new page starts with the navigation folded');
  await noSidewaysScroll(page, 'my loans');
  await context.close();
});
