// Shared pieces of the browser tests: a throw-away archive made with
// custosctl, custosd on an ephemeral port, Debian's Chromium driven by
// playwright-core, screenshots, and a small API client for seeding data.

import { spawn, execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');
export const binDir = process.env.CUSTOS_BIN_DIR || path.join(repoRoot, 'build', 'bin');
export const artifactsDir = process.env.CUSTOS_ARTIFACTS || path.join(repoRoot, 'build', 'test-artifacts', 'ui');
export const uiDir = path.join(repoRoot, 'ui');

export const PASSWORD = 'ui-test-password-0042';
// custosctl init wants the two administrators' passwords different (two
// people, two secrets): "security" has its own.
export const SECURITY_PASSWORD = 'ui-test-security-0042';

export function passwordOf(username) {
  return username === 'security' ? SECURITY_PASSWORD : PASSWORD;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--no-first-run', '--disable-quic',
];

export const UI_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  + "connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

// Deterministic bytes (xorshift32 from a fixed seed), so that every run
// uploads the same files.
export function seededBytes(size, seed) {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 1) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// Sets `key = value` in DIR/custos.conf (which custosctl init writes with
// every key): the line of that key is replaced, or added when absent.
export function setConfig(dataDir, key, value) {
  const conf = path.join(dataDir, 'custos.conf');
  const text = fs.readFileSync(conf, 'utf8');
  const line = `${key} = ${value}`.trimEnd();
  const re = new RegExp(`^${key.replace(/\./g, '\\.')}\\s*=.*$`, 'm');
  fs.writeFileSync(conf, re.test(text) ? text.replace(re, line) : `${text.replace(/\n?$/, '\n')}${line}\n`);
}

// A new data directory with "admin" (sysadmin, PASSWORD) and "security"
// (security officer, SECURITY_PASSWORD) from custosctl init, and one user
// per [name, role, department, {forceChange}] with PASSWORD (no change due
// unless forceChange).
//
// secondFactorRoles: custosd asks a second factor at sign-in of every role
// but staff by default (auth.second_factor_roles, common/config.h). The
// browser tests that are not about the second factor sign in with a
// password alone, so by default the archive asks it of no role
// (`auth.second_factor_roles =`, empty); ui_second_factor.test.mjs names
// the roles it tests.
//
// approverCoolingDays: an account created less than
// auth.approver_cooling_days (default 30) ago may not approve a destruction
// or a shorter retention; the tests' approvers are minutes old, so the
// period is 0 here unless a test sets it.
export function makeArchive(users, { secondFactorRoles = '', approverCoolingDays = 0 } = {}) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'custos-ui-'));
  const dataDir = path.join(tmp, 'data');
  const pwFile = path.join(tmp, 'password');
  const securityPwFile = path.join(tmp, 'security-password');
  fs.writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o600 });
  fs.writeFileSync(securityPwFile, `${SECURITY_PASSWORD}\n`, { mode: 0o600 });
  const run = (args) => execFileSync(path.join(binDir, 'custosctl'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  run(['init', '--data', dataDir, '--admin-password-file', pwFile, '--security-officer-password-file', securityPwFile]);
  setConfig(dataDir, 'auth.second_factor_roles', secondFactorRoles);
  setConfig(dataDir, 'auth.approver_cooling_days', String(approverCoolingDays));
  for (const [name, role, department, opts] of users) {
    const args = ['user', 'add', name, '--role', role, '--department', department, '--data', dataDir, '--password-file', pwFile];
    if (!(opts && opts.forceChange)) args.push('--no-force-change');
    run(args);
  }
  return { tmp, dataDir, remove: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

// RFC 6238 TOTP (HMAC-SHA1, 30 s steps, 6 digits) of a base32 secret at
// `ms` (milliseconds since the epoch), computed here with Node's crypto,
// independently of the server.
export function totp(secretBase32, ms = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secretBase32.replace(/[\s=]/g, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const key = Buffer.alloc(Math.floor(bits.length / 8));
  for (let i = 0; i < key.length; i += 1) key[i] = parseInt(bits.slice(i * 8, i * 8 + 8), 2);
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 1000 / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1000000;
  return String(code).padStart(6, '0');
}

// Starts custosd and waits for its "listening" log line, which names the
// port the kernel chose for 127.0.0.1:0 (as tests/testutil/process.cc).
export async function startServer(dataDir, logPath) {
  const log = fs.openSync(logPath, 'w');
  const child = spawn(path.join(binDir, 'custosd'), ['--data', dataDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', log, log],
  });
  const deadline = Date.now() + 20000;
  let port = 0;
  while (Date.now() < deadline) {
    const text = fs.readFileSync(logPath, 'utf8');
    const m = /"msg":"listening".*"port":([0-9]+)/.exec(text);
    if (m) { port = Number(m[1]); break; }
    if (child.exitCode !== null) break;
    await new Promise((r) => { setTimeout(r, 25); });
  }
  if (!port) {
    child.kill('SIGKILL');
    throw new Error(`custosd did not start: ${fs.readFileSync(logPath, 'utf8')}`);
  }
  const origin = `https://127.0.0.1:${port}`;
  const ca = fs.readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
  return {
    pid: child.pid,
    port,
    origin,
    ca,
    log: () => fs.readFileSync(logPath, 'utf8'),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => { child.once('exit', r); });
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => { if (child.exitCode === null) process.kill(child.pid, 'SIGKILL'); }, 15000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// How long a page's wait (waitForFunction, a locator's action) may take
// before it fails: 90 s instead of 30. On a 2-core machine that also runs
// other suites beside a sanitizer build of custosd, a comparison page once
// took longer than 30 s to appear; each test keeps its own overall limit.
const PAGE_WAIT_MS = 90000;

export async function launchBrowser() {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (options) => {
    const context = await newContext(options);
    context.setDefaultTimeout(PAGE_WAIT_MS);
    return context;
  };
  return browser;
}

// Screenshots numbered in the order taken, under artifactsDir/<suite>/.
export function screenshotter(suite) {
  const dir = path.join(artifactsDir, suite);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return async (page, name) => {
    n += 1;
    const file = path.join(dir, `${String(n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    return file;
  };
}

// ---- a minimal API client for seeding (not the system under test) -------

export function apiCall(server, method, apiPath, { token, json, multipart } = {}) {
  return new Promise((resolve, reject) => {
    const headers = {};
    let body = null;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (json !== undefined) {
      body = Buffer.from(JSON.stringify(json));
      headers['Content-Type'] = 'application/json';
    } else if (multipart) {
      const boundary = `----custos${Date.now().toString(16)}`;
      const chunks = [];
      for (const part of multipart) {
        const disp = part.filename ? `form-data; name="${part.name}"; filename="${part.filename}"` : `form-data; name="${part.name}"`;
        chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disp}\r\nContent-Type: ${part.type}\r\n\r\n`));
        chunks.push(Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data));
        chunks.push(Buffer.from('\r\n'));
      }
      chunks.push(Buffer.from(`--${boundary}--\r\n`));
      body = Buffer.concat(chunks);
      headers['Content-Type'] = `multipart/form-data; boundary=${boundary}`;
    }
    if (body) headers['Content-Length'] = String(body.length);
    const req = https.request({ host: '127.0.0.1', port: server.port, method, path: apiPath, headers, ca: server.ca, servername: 'localhost' }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString('utf8');
        let data = text;
        try { data = JSON.parse(text); } catch (_) { /* text answer */ }
        if (res.statusCode >= 400) reject(new Error(`${method} ${apiPath}: ${res.statusCode} ${text}`));
        else resolve({ status: res.statusCode, data, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export async function apiSignIn(server, username) {
  const res = await apiCall(server, 'POST', '/v1/session', { json: { username, password: passwordOf(username) } });
  return res.data.token;
}

// ---- UI steps ------------------------------------------------------------

export async function signIn(page, origin, username) {
  await page.goto(`${origin}/#/signin`);
  await page.locator('#sign-in').waitFor();
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', passwordOf(username));
  await page.click('#sign-in');
  await page.locator('#whoami-name', { hasText: username }).waitFor();
  await settle(page);
}

export async function signOut(page) {
  await page.click('#sign-out');
  await page.locator('#sign-in').waitFor();
}

// Waits until the page for the current hash has been drawn completely
// (the shell sets body[data-state=ready] and body[data-hash]).
export async function settle(page) {
  await page.waitForFunction(() => document.body.dataset.state === 'ready'
    && document.body.dataset.hash === window.location.hash);
}

export async function go(page, hash) {
  await page.evaluate((h) => { window.location.hash = h; }, hash);
  await page.waitForFunction((h) => window.location.hash === h, hash);
  await settle(page);
}
