// URL routing on the hash: `#page`, `#page/id`, `#page?filters`, `#page/id?filters`. Every view the console shows
// is one of these, so a link or a reload opens the same view (notifications link to `#alerts/<id>`).
import { useEffect, useState } from './html.js';

function parseHash(hash = location.hash) {
  const [path, search = ''] = hash.replace(/^#\/?/, '').split('?');
  const [page = '', ...rest] = path.split('/');
  return {
    page,
    id: rest.length ? decodeURIComponent(rest.join('/')) : undefined,
    params: new URLSearchParams(search),
  };
}

export function href(page, id, params) {
  const q = params ? new URLSearchParams(params).toString() : '';
  return `#${page}${id !== undefined ? `/${encodeURIComponent(id)}` : ''}${q ? `?${q}` : ''}`;
}

/** Go to a view; `replace` changes the URL without a history entry (a filter typed, not a page opened). */
export function navigate(page, id, params, { replace = false } = {}) {
  const target = href(page, id, params);
  if (target === location.hash) return;
  if (replace) {
    history.replaceState(null, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else location.hash = target;
}

export function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const onChange = () => setRoute(parseHash());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

/** The params as a plain object. */
export const paramsObject = (params) => Object.fromEntries(params.entries());
