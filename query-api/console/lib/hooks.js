// Effects that clean up after themselves: each request is aborted, each stream closed and each timer cleared when
// the component that started it goes away or its inputs change.
import { ApiError, api } from './api.js';
import { useEffect, useRef, useState } from './html.js';

/** GET `path` (null: nothing) and re-GET when it changes or on `reload()`; a stale answer never lands. */
export function useApi(path) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: Boolean(path) });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (!path) return setState({ data: undefined, error: undefined, loading: false });
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api(path, { signal: controller.signal }).then(
      (data) => setState({ data, error: undefined, loading: false }),
      (error) => {
        if (error.name !== 'AbortError') setState({ data: undefined, error, loading: false });
      },
    );
    return () => controller.abort();
  }, [path, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/**
 * Server-Sent Events from `url` (null: none) while mounted. `handlers` maps event names to functions of the parsed
 * data. Returns the connection status shown to the user.
 */
export function useEventSource(url, handlers) {
  const [status, setStatus] = useState(url ? 'connecting' : 'not live');
  const current = useRef(handlers);
  current.current = handlers;
  useEffect(() => {
    if (!url) return setStatus('not live');
    const source = new EventSource(url);
    setStatus('connecting');
    source.addEventListener('open', () => setStatus('live'));
    // EventSource gives up (CLOSED) after a 401: the key was revoked or the session ended.
    source.addEventListener('error', () =>
      setStatus(source.readyState === EventSource.CLOSED ? 'stream closed: sign in again' : 'reconnecting'),
    );
    // A stream past its lifetime reconnects by itself with Last-Event-ID; a revoked key or ended session does not.
    source.addEventListener('closed', (m) => {
      if (JSON.parse(m.data).reason === 'max_lifetime') return;
      source.close();
      setStatus('stream closed: sign in again');
    });
    source.addEventListener('overflow', () => setStatus('too many messages: narrow the filters'));
    for (const name of Object.keys(current.current))
      source.addEventListener(name, (m) => current.current[name]?.(JSON.parse(m.data)));
    return () => source.close();
  }, [url]);
  return status;
}

export function useInterval(fn, ms) {
  const current = useRef(fn);
  current.current = fn;
  useEffect(() => {
    if (!ms) return;
    const timer = setInterval(() => current.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** Runs an action (a POST, a DELETE) and keeps its error for the page to show. */
export function useAction() {
  const [state, setState] = useState({ busy: false, error: undefined, done: undefined });
  const run = async (fn) => {
    setState({ busy: true, error: undefined, done: undefined });
    try {
      const done = await fn();
      setState({ busy: false, error: undefined, done });
      return done;
    } catch (error) {
      setState({
        busy: false,
        error: error instanceof ApiError ? error : new ApiError(0, { title: String(error) }),
        done: undefined,
      });
      return undefined;
    }
  };
  return { ...state, run };
}

/**
 * A list read page by page: `url` (null: nothing) is the first page; `more()` appends the page after
 * `next_cursor`. `page` is the last page's answer (for totals).
 */
export function useCursorList(url) {
  const [state, setState] = useState({
    items: [],
    cursor: null,
    page: undefined,
    error: undefined,
    loading: Boolean(url),
  });
  const [controller, setController] = useState(undefined);
  const fetchPage = async (cursor, signal) => {
    setState((s) => ({ ...s, loading: true, error: undefined }));
    try {
      const page = await api(
        cursor ? `${url}${url.includes('?') ? '&' : '?'}cursor=${encodeURIComponent(cursor)}` : url,
        { signal },
      );
      setState((s) => ({
        items: cursor ? [...s.items, ...page.items] : page.items,
        cursor: page.next_cursor,
        page,
        error: undefined,
        loading: false,
      }));
    } catch (error) {
      if (error.name !== 'AbortError') setState((s) => ({ ...s, error, loading: false }));
    }
  };
  useEffect(() => {
    if (!url) return;
    const c = new AbortController();
    setController(c);
    setState({ items: [], cursor: null, page: undefined, error: undefined, loading: true });
    fetchPage(null, c.signal);
    return () => c.abort();
  }, [url]);
  return { ...state, more: () => fetchPage(state.cursor, controller?.signal) };
}
