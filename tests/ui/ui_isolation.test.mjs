// The UI loads nothing from outside the server, under its strict
// Content-Security-Policy, on every page and for every role: each request
// the browser makes is intercepted and must go to the server's own origin;
// no console message may report a CSP violation; every form control has a
// label. Also static checks of the files under ui/ (no inline script or
// style, no HTML parsing of strings, no external URLs) and that Chinese and
// English have the same messages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  makeArchive, startServer, launchBrowser, screenshotter, signIn, settle, go, apiCall, apiSignIn, uiDir, UI_POLICY, PASSWORD,
} from './lib/harness.mjs';

const USERS = [
  ['alice', 'archivist', 'Archive'],
  ['bob', 'staff', 'Sales'],
  ['carol', 'approver', 'Sales'],
  ['lena', 'legal', 'Legal'],
  ['dave', 'auditor', 'Audit'],
  ['sophie', 'security_officer', 'IT 信息部'],
  ['quentin', 'security_auditor', 'IT 信息部'],
];

let archive;
let server;
let browser;
const seeded = {};

function isoDays(days) {
  return new Date(Date.now() + days * 86400000).toISOString();
}
function ymd(days) {
  return isoDays(days).slice(0, 10);
}

async function checkIn(token, metadata, files) {
  const parts = [{ name: 'metadata', type: 'application/json', data: JSON.stringify(metadata) }];
  for (const [name, type, data] of files) parts.push({ name: 'file', filename: name, type, data });
  const res = await apiCall(server, 'POST', '/v1/records', { token, multipart: parts });
  return res.data.id;
}

// Something on every page: records of several types, loans in several
// states, an expiring certificate, a hold, a pending retention change and
// an executed destruction batch with its certificate.
async function seed() {
  const t = {};
  for (const [name] of USERS) t[name] = await apiSignIn(server, name);
  const contract = await checkIn(t.alice, {
    type: 'contract', title: 'Framework agreement <b>bold</b> & "quoted"', department: 'Sales', classification: 'internal',
    metadata: { counterparty: 'Acme <script>alert(1)</script> GmbH', contractNumber: 'FA-7', signedDate: '2026-01-05', endDate: '2030-12-31' },
  }, [['agreement.pdf', 'application/pdf', '%PDF-1.4 agreement'], ['annex.txt', 'text/plain', 'annex']]);
  await apiCall(server, 'POST', `/v1/records/${contract}/versions`, {
    token: t.alice,
    multipart: [{ name: 'metadata', type: 'application/json', data: JSON.stringify({ kind: 'supplementary_agreement', note: 'Price change' }) },
      { name: 'file', filename: 'supplement.pdf', type: 'application/pdf', data: '%PDF-1.4 supplement' }],
  });
  const cert = await checkIn(t.alice, {
    type: 'qualification', title: 'ISO 9001 certificate', department: 'Sales', classification: 'public',
    metadata: { issuer: 'CQC', certificateNumber: 'Q-1', validUntil: ymd(20) },
  }, [['iso9001.pdf', 'application/pdf', 'iso']]);
  const old = await checkIn(t.alice, {
    type: 'contract', title: 'Lease 2009', department: 'Sales', classification: 'internal',
    metadata: { counterparty: 'Landlord Ltd.', contractNumber: 'L-2009', signedDate: '2009-01-01', endDate: '2010-01-01' },
  }, [['lease.pdf', 'application/pdf', 'lease']]);
  const old2 = await checkIn(t.alice, {
    type: 'contract', title: 'Lease 2008', department: 'Sales', classification: 'internal',
    metadata: { counterparty: 'Landlord Ltd.', contractNumber: 'L-2008', signedDate: '2008-01-01', endDate: '2009-01-01' },
  }, [['lease-2008.pdf', 'application/pdf', 'lease 2008']]);

  const digital = (await apiCall(server, 'POST', '/v1/loans', { token: t.bob, json: { recordId: contract, kind: 'digital', purpose: 'review', dueAt: isoDays(10) } })).data.id;
  await apiCall(server, 'POST', `/v1/loans/${digital}/approve`, { token: t.carol });
  const physical = (await apiCall(server, 'POST', '/v1/loans', { token: t.bob, json: { recordId: contract, kind: 'physical', purpose: 'signing copy', dueAt: isoDays(5) } })).data.id;
  await apiCall(server, 'POST', `/v1/loans/${physical}/approve`, { token: t.carol });
  await apiCall(server, 'POST', '/v1/loans', { token: t.dave, json: { recordId: cert, kind: 'digital', purpose: 'audit sample', dueAt: isoDays(3) } });

  const hold = (await apiCall(server, 'POST', '/v1/holds', { token: t.lena, json: { name: 'Acme dispute', reason: 'Pending litigation', caseRef: '(2026) Hu 01 Min Chu 123', recordIds: [cert] } })).data.id;
  await apiCall(server, 'PUT', '/v1/retention/schedules/general', { token: t.alice, json: { trigger: 'created', period: 'P5Y', action: 'destroy' } });

  await apiCall(server, 'GET', '/v1/disposition/due', { token: t.alice });
  const batch = (await apiCall(server, 'POST', '/v1/destructions', { token: t.alice, json: { recordIds: [old], reason: 'Retention expired' } })).data.id;
  await apiCall(server, 'POST', `/v1/destructions/${batch}/approve`, { token: t.carol });
  await apiCall(server, 'POST', `/v1/destructions/${batch}/approve`, { token: t.lena });
  await apiCall(server, 'POST', `/v1/destructions/${batch}/execute`, { token: t.alice });
  // An account awaiting set-up and a role grant awaiting its second person.
  const admin = await apiSignIn(server, 'admin');
  await apiCall(server, 'POST', '/v1/users', { token: admin, json: { username: 'wang.fang', department: 'Sales' } });
  const grant = (await apiCall(server, 'POST', '/v1/grants', { token: t.sophie, json: { username: 'bob', role: 'approver' } })).data.id;
  Object.assign(seeded, { contract, cert, old, old2, digital, physical, hold, batch, grant });
}

before(async () => {
  archive = makeArchive(USERS);
  server = await startServer(archive.dataDir, path.join(archive.tmp, 'custosd.log'));
  await seed();
  browser = await launchBrowser();
});

after(async () => {
  if (browser) await browser.close();
  if (server) await server.stop();
  if (archive) archive.remove();
});

function pagesFor(role) {
  const s = seeded;
  const common = ['#/records', '#/records?q=Lease', `#/records/${s.contract}`, `#/records/${s.old}`, `#/records/${s.contract}/borrow`,
    '#/loans?view=mine', '#/alerts', '#/audit', '#/password'];
  switch (role) {
    case 'sysadmin': return ['#/admin/users', '#/admin/grants', '#/admin/grants?state=all', '#/admin/departments', '#/alerts', '#/password'];
    case 'security_officer': return ['#/admin/users', '#/admin/grants', '#/admin/grants?state=confirmed', '#/alerts', '#/password'];
    case 'security_auditor': return ['#/admin/users', '#/admin/grants', '#/alerts', '#/audit', '#/password'];
    case 'archivist': return [...common, '#/checkin', `#/records/${s.contract}/new-version`, `#/records/${s.contract}/edit`, `#/records/${s.contract}/compare?from=1&to=2`,
      '#/loans?view=desk', '#/loans?view=overdue', '#/loans?view=all', `#/loans/${s.physical}`, '#/retention', '#/disposition',
      '#/holds', `#/holds/${s.hold}`, '#/destructions', `#/destructions/${s.batch}`];
    case 'staff': return [...common, `#/loans/${s.digital}`];
    case 'approver': return [...common, '#/loans?view=inbox', '#/loans?view=overdue', `#/loans/${s.physical}`, '#/destructions', `#/destructions/${s.batch}`];
    case 'legal': return [...common, '#/loans?view=all', '#/retention', '#/disposition', '#/holds', `#/holds/${s.hold}`, '#/destructions', `#/destructions/${s.batch}`];
    case 'auditor': return [...common, '#/loans?view=all', '#/retention', '#/disposition', '#/holds', `#/holds/${s.hold}`, '#/destructions', `#/destructions/${s.batch}`];
    default: return common;
  }
}

// Every visible input, select and textarea has a label the browser
// associates with it (or an aria-label).
async function unlabelledControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
    .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML.slice(0, 120)));
}

test('no page requests anything outside the server, and the CSP holds', { timeout: 300000 }, async () => {
  const snap = screenshotter('isolation');
  const { origin } = server;
  const roles = [['admin', 'sysadmin'], ...USERS.map(([name, role]) => [name, role])];
  for (const [username, role] of roles) {
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1360, height: 900 } });
    const outside = [];
    const seen = [];
    await context.route('**/*', (route) => {
      const url = route.request().url();
      seen.push(url);
      if (new URL(url).origin !== origin) {
        outside.push(url);
        return route.abort();
      }
      return route.continue();
    });
    const page = await context.newPage();
    const cspMessages = [];
    const pageErrors = [];
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) cspMessages.push(m.text()); });
    page.on('pageerror', (e) => pageErrors.push(e.message));

    const first = await page.goto(`${origin}/`);
    assert.equal(first.status(), 200);
    assert.equal(first.headers()['content-security-policy'], UI_POLICY, 'the UI policy is on /');
    await signIn(page, origin, username);
    for (const hash of ['#/home', ...pagesFor(role)]) {
      await go(page, hash);
      const err = await page.locator('main .notice-error').allTextContents();
      assert.deepEqual(err, [], `${role} ${hash} shows no error`);
      assert.deepEqual(await unlabelledControls(page), [], `${role} ${hash}: every control is labelled`);
      await snap(page, `${role}-${hash.replace(/^#\//, '').replace(/[^A-Za-z0-9]+/g, '_')}`);
    }
    // A full reload of a deep link works too (the token is in sessionStorage).
    await page.reload();
    await settle(page);
    assert.equal(await page.textContent('#whoami-name'), username);

    assert.deepEqual(outside, [], `${role}: requests outside ${origin}`);
    assert.ok(seen.some((u) => u.endsWith('/css/app.css')) && seen.some((u) => u.endsWith('/js/app.js')), 'requests were seen');
    assert.deepEqual(cspMessages, [], `${role}: CSP violations`);
    assert.deepEqual(pageErrors, [], `${role}: script errors`);
    await context.close();
  }
});

test('the keyboard alone signs in and moves between pages, with a visible focus', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(`${server.origin}/`);
  await page.locator('#sign-in').waitFor();
  // The username field has the focus on arrival.
  assert.equal(await page.evaluate(() => document.activeElement.name), 'username');
  await page.keyboard.type('bob');
  await page.keyboard.press('Tab');
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press('Enter');
  await page.locator('#whoami-name', { hasText: 'bob' }).waitFor();
  await settle(page);
  // The skip link comes first and jumps to the page's heading.
  await page.focus('a.brand');
  await page.keyboard.press('Shift+Tab');
  assert.ok(await page.evaluate(() => document.activeElement.classList.contains('skip-link')), 'skip link first');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'page-title', 'the skip link skips to the content');
  // Tab reaches the navigation.
  await page.focus('a.brand');
  let found = false;
  for (let i = 0; i < 30 && !found; i += 1) {
    await page.keyboard.press('Tab');
    found = await page.evaluate(() => document.activeElement.getAttribute('href') === '#/alerts');
  }
  assert.ok(found, 'the alerts link is reachable with Tab');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.notEqual(outline, 'none', 'the focused link shows its focus');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.location.hash === '#/alerts');
  await settle(page);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'page-title', 'focus moves to the new page');
  await context.close();
});

test('server text is shown as text, never parsed as HTML', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let dialogs = 0;
  page.on('dialog', async (d) => { dialogs += 1; await d.dismiss(); });
  await signIn(page, server.origin, 'alice');
  await go(page, `#/records/${seeded.contract}`);
  assert.equal(await page.textContent('#page-title'), 'Framework agreement <b>bold</b> & "quoted"');
  assert.equal(await page.locator('main b').count(), 0);
  assert.equal(await page.locator('main script').count(), 0);
  assert.match(await page.textContent('main'), /Acme <script>alert\(1\)<\/script> GmbH/);
  assert.equal(dialogs, 0);
  await context.close();
});

test('every response of the UI carries the policy, and the files obey it', async () => {
  const files = [];
  (function walk(dir) {
    for (const name of fs.readdirSync(dir)) {
      const p = path.join(dir, name);
      if (fs.statSync(p).isDirectory()) walk(p); else files.push(p);
    }
  }(uiDir));
  assert.ok(files.length > 5);
  for (const file of files) {
    const rel = `/${path.relative(uiDir, file)}`;
    const res = await apiCall(server, 'GET', rel === '/index.html' ? '/' : rel);
    assert.equal(res.headers['content-security-policy'], UI_POLICY, `${rel}: policy`);
    const text = fs.readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/, `${rel}: no absolute URLs`);
    if (file.endsWith('.html')) {
      assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${rel}: no inline script`);
      assert.doesNotMatch(text, /\sstyle\s*=/i, `${rel}: no style attribute`);
      assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${rel}: no inline handler`);
      assert.doesNotMatch(text, /<style/i, `${rel}: no style element`);
    }
    if (file.endsWith('.js')) {
      for (const bad of [/\.innerHTML\b/, /\.outerHTML\s*=/, /insertAdjacentHTML/, /document\.write/, /\beval\s*\(/, /new Function\b/, /setAttribute\(\s*['"]style/, /createContextualFragment/]) {
        assert.doesNotMatch(text, bad, `${rel}: ${bad}`);
      }
    }
  }
});

test('Chinese and English have the same messages', async () => {
  // messages.js is an ES module; load it from its text whatever the
  // package type Node assumes for .js files.
  const source = fs.readFileSync(path.join(uiDir, 'js', 'messages.js'), 'utf8');
  const { MESSAGES } = await import(`data:text/javascript;base64,${Buffer.from(source).toString('base64')}`);
  const zh = Object.keys(MESSAGES.zh).sort();
  const en = Object.keys(MESSAGES.en).sort();
  // English may add plural forms (`key.one`) of a key both languages have.
  const pluralForm = (k) => /\.(zero|one|two|few|many)$/.test(k) && zh.includes(k.replace(/\.\w+$/, ''));
  assert.deepEqual(zh.filter((k) => !en.includes(k)), [], 'only in Chinese');
  assert.deepEqual(en.filter((k) => !zh.includes(k) && !pluralForm(k)), [], 'only in English');
  const placeholders = (s) => (s.match(/\{\w+\}/g) || []).sort().join(',');
  for (const k of zh) assert.equal(placeholders(MESSAGES.zh[k]), placeholders(MESSAGES.en[k]), `placeholders of ${k}`);
  for (const k of en.filter(pluralForm)) {
    assert.equal(placeholders(MESSAGES.en[k]), placeholders(MESSAGES.en[k.replace(/\.\w+$/, '')]), `placeholders of ${k}`);
  }
  // Every English count of things has its singular: no "1 files".
  const counted = /\{(n|files|count|records)\} (files|days|records|findings|versions|entries)\b/;
  const missing = en.filter((k) => !pluralForm(k) && counted.test(MESSAGES.en[k]) && MESSAGES.en[`${k}.one`] === undefined);
  assert.deepEqual(missing, [], 'English counts without a singular form');
});

test('every error code the server returns for a user action has a message', () => {
  // Codes are the last string literal of a Status or Response::Error built
  // in the server's services and routes (docs/api.md "Errors").
  const source = fs.readFileSync(path.join(uiDir, 'js', 'messages.js'), 'utf8');
  const dirs = ['server/services', 'server/http'];
  const codes = new Set();
  for (const dir of dirs) {
    for (const name of fs.readdirSync(path.join(uiDir, '..', dir))) {
      if (!name.endsWith('.cc')) continue;
      const text = fs.readFileSync(path.join(uiDir, '..', dir, name), 'utf8');
      // The arguments: string literals (which may hold ';') and other text,
      // up to the first literal that ends the call.
      const re = /\b(InvalidArgument|NotFound|Conflict|Gone|PermissionDenied|Unauthenticated|Unprocessable|TooLarge|ResourceExhausted|Unavailable)\(((?:[^;"]|"(?:[^"\\]|\\.)*")*?)"([a-z][a-z0-9_]*)"\)/g;
      for (const m of text.matchAll(re)) if (!m[2].includes('WithParam(')) codes.add(m[3]);
      for (const m of text.matchAll(/Response::Error\(\s*\d+\s*,\s*"([a-z][a-z0-9_]*)"/g)) codes.add(m[1]);
    }
  }
  // Failures of start-up (custosd's log, not an answer), of parsing a
  // receipt (custosctl verify), of a time-stamping authority (the attester
  // thread's log and metrics) and of the tiles read API (for log monitors,
  // not the UI) never reach the UI.
  for (const c of ['listen_failed', 'tls_config', 'receipt_malformed', 'tsa_bad_reply', 'tsa_unreachable',
    'tsa_url_invalid', 'bad_tile_path', 'tile_not_found']) codes.delete(c);
  assert.ok(codes.size > 50, `found ${codes.size} codes`);
  const missing = [...codes].filter((c) => !source.includes(`'err.${c}'`)).sort();
  assert.deepEqual(missing, [], 'codes without a Chinese and English message');
});
