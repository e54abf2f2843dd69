// The API reference at /docs: the OpenAPI document rendered here, from this origin only, so it works offline.
import { html, render, useEffect, useState } from './lib/html.js';
import { Problem } from './lib/ui.js';

function typeOf(doc, schema, depth = 0) {
  if (!schema) return '';
  if (schema.$ref) return schema.$ref.split('/').at(-1);
  if (schema.enum) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  for (const k of ['anyOf', 'oneOf'])
    if (schema[k]) return schema[k].map((s) => typeOf(doc, s, depth)).join(' | ');
  if (schema.type === 'array') return `${typeOf(doc, schema.items, depth)}[]`;
  if (schema.type === 'object' && schema.properties && depth < 1)
    return `{ ${Object.entries(schema.properties)
      .map(([k, v]) => `${k}: ${typeOf(doc, v, depth + 1)}`)
      .join('; ')} }`;
  return [schema.type, schema.format].filter(Boolean).join(' ') || 'any';
}

function Schema({ doc, name, schema }) {
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  return html`<section class="schema" id=${`schema-${name}`}>
    <h3>${name}</h3>
    ${schema.description ? html`<p>${schema.description}</p>` : null}
    ${
      props.length
        ? html`<table><thead><tr><th scope="col">Field</th><th scope="col">Type</th><th scope="col">About</th></tr></thead>
          <tbody>${props.map(([k, v]) => html`<tr><td><code>${k}</code>${required.has(k) ? ' *' : ''}</td><td><code>${typeOf(doc, v)}</code></td><td>${v.description ?? ''}</td></tr>`)}</tbody></table>`
        : html`<p><code>${typeOf(doc, schema)}</code></p>`
    }
  </section>`;
}

function Operation({ doc, path, method, op }) {
  const body = op.requestBody?.content;
  return html`<details class="operation" id=${op.operationId}>
    <summary><span class=${`method ${method}`}>${method.toUpperCase()}</span> <code>${path}</code> ${op.summary ?? ''}</summary>
    ${op.description ? html`<p>${op.description}</p>` : null}
    ${op.security?.length ? html`<p>Needs an API key (<code>Authorization: Bearer …</code>) or the console's session.</p>` : html`<p>No key needed.</p>`}
    ${
      op.parameters?.length
        ? html`<table><caption>Parameters</caption><thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th><th scope="col">About</th></tr></thead>
          <tbody>${op.parameters.map((p) => html`<tr><td><code>${p.name}</code>${p.required ? ' *' : ''}</td><td>${p.in}</td><td><code>${typeOf(doc, p.schema)}</code></td><td>${p.description ?? p.schema?.description ?? ''}</td></tr>`)}</tbody></table>`
        : null
    }
    ${body ? html`<p>Body: ${Object.entries(body).map(([type, c]) => html`<code>${type}</code> <code>${typeOf(doc, c.schema)}</code> `)}</p>` : null}
    <ul class="responses">
      ${Object.entries(op.responses ?? {}).map(
        ([status, r]) => html`<li><strong>${status}</strong> ${r.description}
        ${Object.entries(r.content ?? {}).map(([type, c]) => html` <code>${type}</code> <code>${typeOf(doc, c.schema)}</code>`)}</li>`,
      )}
    </ul>
  </details>`;
}

function Docs() {
  const [doc, setDoc] = useState(undefined);
  const [error, setError] = useState(undefined);
  useEffect(() => {
    fetch('/openapi.json')
      .then((r) => r.json())
      .then(setDoc, setError);
  }, []);
  if (error) return html`<main><${Problem} error=${error} /></main>`;
  if (!doc) return html`<main><p>Loading…</p></main>`;
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] ?? 'other';
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method, op });
    }
  return html`<header><a class="brand" href="/"><img src="/console/favicon.svg" alt="" width="24" height="24" />Observatory</a></header>
    <main id="docs">
      <h1>${doc.info.title} ${doc.info.version}</h1>
      <p>${doc.info.description}</p>
      <p><a href="/openapi.json">The OpenAPI document</a></p>
      <nav aria-label="Tags"><ul>${[...byTag.keys()].map((t) => html`<li><a href=${`#tag-${t}`}>${t}</a></li>`)}</ul></nav>
      ${[...byTag].map(([tag, ops]) => html`<section id=${`tag-${tag}`}><h2>${tag}</h2>${ops.map((o) => html`<${Operation} doc=${doc} ...${o} />`)}</section>`)}
      <h2>Schemas</h2>
      ${Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => html`<${Schema} doc=${doc} name=${name} schema=${schema} />`)}
    </main>`;
}

render(html`<${Docs} />`, document.getElementById('app'));
