// The Observatory console. It signs in by exchanging an API key for an HttpOnly session cookie (the key is never
// stored by the page), then uses the public API like any other client. One module per page under pages/.
import { ApiError, api, session, signIn, signOut } from './lib/api.js';
import { html, render, useEffect, useState } from './lib/html.js';
import { loadMeta } from './lib/meta.js';
import { useRoute } from './lib/router.js';
import { Problem } from './lib/ui.js';
import { Alerts } from './pages/alerts.js';
import { Audit } from './pages/audit.js';
import { EventPage } from './pages/event.js';
import { Explore } from './pages/explore.js';
import { Exports } from './pages/exports.js';
import { Keys } from './pages/keys.js';
import { Logs } from './pages/logs.js';
import { Overview } from './pages/overview.js';
import { Provenance } from './pages/provenance.js';
import { SessionPage, Sessions } from './pages/sessions.js';
import { Settings } from './pages/settings.js';
import { Tracer } from './pages/tracer.js';
import { TracePage, Traces } from './pages/traces.js';

/** Pages in the navigation, in order; `admin` pages are shown to everyone but say why a viewer cannot use them. */
const PAGES = [
  ['overview', 'Overview', Overview],
  ['explore', 'Explore', Explore],
  ['traces', 'Traces', Traces],
  ['sessions', 'Sessions', Sessions],
  ['logs', 'Logs', Logs],
  ['tracer', 'Decision tracer', Tracer],
  ['provenance', 'Provenance', Provenance],
  ['alerts', 'Alerts', Alerts],
  ['exports', 'Exports', Exports],
  ['audit', 'Audit', Audit],
  ['keys', 'API keys', Keys],
  ['settings', 'Settings', Settings],
];
/** Pages of one thing, reached by links rather than the navigation. */
const DETAIL = { events: EventPage, traces: TracePage, sessions: SessionPage };

function SignIn({ onDone, message }) {
  const [error, setError] = useState(undefined);
  const submit = async (e) => {
    e.preventDefault();
    try {
      await signIn(e.currentTarget.key.value.trim());
      onDone();
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? new ApiError(401, { title: 'That key was not accepted.' })
          : err,
      );
    }
  };
  return html`<section id="signin">
    <h2>Sign in</h2>
    ${message ? html`<p class="notice">${message}</p>` : null}
    <form id="signin-form" onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" name="key" type="password" autocomplete="off" required placeholder="obs_…" />
      <button type="submit" class="primary">Sign in</button>
    </form>
    <${Problem} error=${error} id="signin-error" />
  </section>`;
}

function App() {
  const [me, setMe] = useState(undefined);
  const [context, setContext] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [attempt, setAttempt] = useState(0);
  const route = useRoute();

  useEffect(() => {
    const out = () => setMe(null);
    session.addEventListener('signed-out', out);
    return () => session.removeEventListener('signed-out', out);
  }, []);
  useEffect(() => {
    const controller = new AbortController();
    api('/api/whoami', { signal: controller.signal })
      .then(async (who) => {
        const [config, meta] = await Promise.all([api('/api/console/config'), loadMeta()]);
        setContext({ config, meta });
        setMe(who);
      })
      .catch((err) => {
        if (err.name === 'AbortError') return;
        if (err instanceof ApiError && err.status === 401) setMe(null);
        else setError(err);
      });
    return () => controller.abort();
  }, [attempt]);

  const header = (nav) => html`<header>
    <a class="brand" href="#overview"><img src="/console/favicon.svg" alt="" width="24" height="24" />Observatory</a>
    ${nav}
  </header>`;
  if (error) return html`${header(null)}<main id="main"><${Problem} error=${error} /></main>`;
  if (me === undefined) return html`${header(null)}<main id="main"><p class="muted">Loading…</p></main>`;
  if (me === null)
    return html`${header(null)}<main id="main"><${SignIn} onDone=${() => setAttempt((a) => a + 1)} /></main>`;

  const detail = route.id !== undefined ? DETAIL[route.page] : undefined;
  const entry = PAGES.find(([name]) => name === route.page) ?? PAGES[0];
  const Page = detail ?? entry[2];
  const current = detail ? route.page : entry[0];
  return html`
    ${header(html`
      <nav aria-label="Sections" id="nav">
        <ul>
          ${PAGES.map(
            ([name, label]) =>
              html`<li><a href=${`#${name}`} aria-current=${name === current ? 'page' : undefined}>${label}</a></li>`,
          )}
        </ul>
      </nav>
      <div id="who">
        Org ${me.org_id} · ${me.role}
        <button type="button" onClick=${async () => {
          await signOut();
          setMe(null);
        }}>Sign out</button>
      </div>
    `)}
    <main id="main">
      <${Page} key=${`${route.page}/${route.id ?? ''}`} me=${me} route=${route} ...${context} />
    </main>
  `;
}

render(html`<${App} />`, document.getElementById('app'));
