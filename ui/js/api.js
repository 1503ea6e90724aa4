// The only way the UI talks to the server: the public HTTP API under /v1
// (docs/api.md, docs/openapi.yaml), same origin, bearer token in a header.
// Errors come back as ApiError with the API's stable `code`; pages map codes
// to messages (i18n.js), never the server's human-readable text alone.

import * as session from './session.js';

export class ApiError extends Error {
  // params: the error's values ({"field":"amount"}, {"maxDays":90}) from
  // which i18n.errorText builds the text in the chosen language.
  constructor(status, code, message, params) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.params = params && typeof params === 'object' && !Array.isArray(params) ? params : {};
  }
}

function fromBody(status, error) {
  return new ApiError(status, error.code, typeof error.message === 'string' ? error.message : '', error.params);
}

// Called for answers that end or block the session everywhere: 401
// (expired, unknown or missing token), 403 password_change_required and
// 403 second_factor_enrolment_required.
let authHandler = null;
export function onAuthProblem(fn) { authHandler = fn; }

function url(path, query) {
  const u = new URL(path, window.location.origin);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '' || v === false) continue;
      u.searchParams.set(k, String(v));
    }
  }
  return u.pathname + u.search;
}

function headers(extra) {
  const hdrs = { ...extra };
  const token = session.token();
  if (token) hdrs.Authorization = `Bearer ${token}`;
  return hdrs;
}

async function errorFrom(res) {
  try {
    const body = await res.json();
    if (body && body.error && typeof body.error.code === 'string') return fromBody(res.status, body.error);
  } catch (_) { /* not JSON: keep the status */ }
  return new ApiError(res.status, `http_${res.status}`, res.statusText);
}

// 401 answers about a code just typed (a wrong TOTP code while enrolling)
// leave the session as it is; any other 401 means it is gone.
const CODE_REFUSALS = ['invalid_second_factor', 'invalid_credentials', 'invalid_setup_code', 'second_factor_required'];

function report(err, path) {
  if (!authHandler) return;
  const signingIn = path === '/v1/session' || path === '/v1/setup';
  if (err.status === 401 && !signingIn && !CODE_REFUSALS.includes(err.code)) authHandler(err);
  else if (err.status === 403 && (err.code === 'password_change_required' || err.code === 'second_factor_enrolment_required')) authHandler(err);
}

// JSON in, JSON (or text, or nothing) out.
export async function request(method, path, { body, query, accept } = {}) {
  const init = { method, headers: headers(accept ? { Accept: accept } : {}), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url(path, query), init);
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    report(err, path);
    throw err;
  }
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('application/json')) {
    const data = await res.json();
    // 202 with a body is a job or a pending change; callers read .status.
    if (res.status === 202 && data && typeof data === 'object') Object.defineProperty(data, 'httpStatus', { value: 202 });
    return data;
  }
  return res.text();
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body) => request('POST', path, { body: body === undefined ? {} : body });
export const put = (path, body) => request('PUT', path, { body });
export const patch = (path, body) => request('PATCH', path, { body });
export const del = (path) => request('DELETE', path);

// A multipart upload with progress: fetch() reports no upload progress, so
// large check-ins go through XMLHttpRequest. onProgress(loaded, total).
export function upload(path, formData, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    const token = session.token();
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
    xhr.upload.addEventListener('progress', (e) => {
      if (onProgress) onProgress(e.loaded, e.lengthComputable ? e.total : 0);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON */ }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body);
        return;
      }
      const err = body && body.error && typeof body.error.code === 'string'
        ? fromBody(xhr.status, body.error)
        : new ApiError(xhr.status, `http_${xhr.status}`, xhr.statusText);
      report(err, path);
      reject(err);
    });
    xhr.addEventListener('error', () => reject(new ApiError(0, 'network', 'network error')));
    xhr.addEventListener('abort', () => reject(new ApiError(0, 'aborted', 'aborted')));
    xhr.send(formData);
  });
}

// The file name from Content-Disposition: the exact UTF-8 name from
// filename* (RFC 8187) when present, else the ASCII fallback.
export function dispositionName(header, fallback) {
  if (!header) return fallback;
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(header);
  if (star) {
    try { return decodeURIComponent(star[1].trim()); } catch (_) { /* fall through */ }
  }
  const plain = /filename\s*=\s*"([^"]*)"/i.exec(header);
  return plain ? plain[1] : fallback;
}

// Downloads an authenticated resource and hands it to the browser as a
// file. Content never enters the page as markup: it goes into a Blob and
// leaves through a download link. Returns what the server said about it.
export async function download(path, fallbackName, { query } = {}) {
  const res = await fetchOk(path, query);
  if (res.status === 202) {
    return { pending: true, job: await res.json() };
  }
  const blob = await res.blob();
  const name = dispositionName(res.headers.get('Content-Disposition'), fallbackName);
  saveBlob(blob, name);
  return {
    name,
    size: blob.size,
    etag: (res.headers.get('ETag') || '').replace(/"/g, ''),
    logIndex: res.headers.get('X-Custos-Log-Index'),
    // A copy stamped for a loan (docs/api.md "Stamped loan copies"):
    // copy is "stamped" and loan names the loan; both null otherwise.
    copy: res.headers.get('X-Custos-Copy'),
    loan: res.headers.get('X-Custos-Loan'),
  };
}

// An authenticated binary answer (a preview image) as a Blob with the
// answer's headers, never saved; errors as for request().
export async function fetchBlob(path, query) {
  const res = await fetchOk(path, query);
  return { blob: await res.blob(), headers: res.headers };
}

// An authenticated GET that is not kept in the browser's cache; an answer
// that is not 2xx is reported and thrown as an ApiError.
async function fetchOk(path, query) {
  let res;
  try {
    res = await fetch(url(path, query), { headers: headers(), cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', String(e && e.message ? e.message : e));
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    report(err, path);
    throw err;
  }
  return res;
}

export function saveBlob(blob, name) {
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Give the browser time to start the download before the URL goes.
  setTimeout(() => URL.revokeObjectURL(href), 60000);
}

export function saveText(text, name, type = 'text/plain') {
  saveBlob(new Blob([text], { type: `${type};charset=utf-8` }), name);
}
