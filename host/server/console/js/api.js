// The console's only way to the server: same-origin fetches to /api/v1 with the session
// cookie (HttpOnly, set by POST /api/v1/login) and, on every state change, the CSRF token
// in the X-CSRF-Token header. A 401 sends the page back to the login form with the reason.

let csrf = null;
let onUnauthorized = () => {};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function setCsrf(token) {
  csrf = token || null;
}

export function whenUnauthorized(fn) {
  onUnauthorized = fn;
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

/// Builds `/api/v1/PATH?k=v` skipping empty values.
export function url(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const qs = q.toString();
  return `/api/v1${path}${qs ? `?${qs}` : ''}`;
}

/// `api('GET', '/calls', null, {limit: 50})` → parsed JSON (or text, or null for 204).
/// Throws ApiError(status, message) with the server's `error` text.
export async function api(method, path, body = null, query = {}, { raw = false, quiet401 = false } = {}) {
  const headers = {};
  let payload;
  if (method !== 'GET' && method !== 'HEAD') {
    const token = csrf || cookie('madoguchi_csrf');
    if (token) headers['X-CSRF-Token'] = token;
  }
  if (body instanceof Blob || body instanceof ArrayBuffer || body instanceof Uint8Array) {
    payload = body;
    headers['Content-Type'] = body.type || 'application/octet-stream';
  } else if (typeof body === 'string') {
    payload = body;
    headers['Content-Type'] = 'application/json';
  } else if (body !== null && body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url(path, query), { method, headers, body: payload, credentials: 'same-origin' });
  if (raw && res.ok) return res;
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const msg = (json && json.error) || text || res.statusText;
    if (res.status === 401 && !quiet401) onUnauthorized(json || {});
    throw new ApiError(res.status, msg, json);
  }
  return json !== null ? json : text || null;
}

/// Fetches binary (recording audio) → { status, buffer, headers } without throwing on 4xx.
export async function fetchBinary(path, query = {}) {
  const res = await fetch(url(path, query), { credentials: 'same-origin' });
  if (res.status === 401) onUnauthorized({});
  const buffer = res.ok ? await res.arrayBuffer() : null;
  let error = null;
  if (!res.ok) {
    try {
      error = (await res.json()).error;
    } catch {
      error = res.statusText;
    }
  }
  return { status: res.status, ok: res.ok, buffer, error, headers: res.headers };
}
