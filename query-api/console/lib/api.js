// The one client of the API: same-origin with the session cookie, JSON in and out, problem+json as ApiError.

/** A failed request, carrying the RFC 9457 problem the API answered (title, detail, errors naming the fields). */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

/** Fired when the API answers 401: the session ended or the key was revoked. */
export const session = new EventTarget();

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { 'x-requested-with': 'observatory' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    signal,
    credentials: 'same-origin',
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 401) session.dispatchEvent(new Event('signed-out'));
  const type = res.headers.get('content-type') ?? '';
  const data = type.includes('json') ? await res.json() : await res.text();
  if (!res.ok) {
    throw new ApiError(res.status, typeof data === 'object' ? data : { title: res.statusText, detail: data });
  }
  return data;
}

/** A query string of the given values, empty ones left out. */
export function queryOf(values) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  return q.toString();
}

export async function signIn(key) {
  const res = await fetch('/api/session', { method: 'POST', headers: { authorization: `Bearer ${key}` } });
  if (!res.ok) throw new ApiError(res.status, await res.json().catch(() => ({ title: res.statusText })));
}

export const signOut = () => fetch('/api/session', { method: 'DELETE' });
