// Enumerations and filter fields come from the API's own OpenAPI document, never from copies in the console:
// a value the API adds shows up here without a change.
import { api } from './api.js';

let loading;
/** The OpenAPI document, fetched once per page load. */
export const loadMeta = () => {
  loading ??= api('/openapi.json').then((doc) => new Meta(doc));
  return loading;
};

class Meta {
  constructor(doc) {
    this.doc = doc;
    this.operations = new Map();
    for (const [path, methods] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(methods))
        this.operations.set(op.operationId, { path, method, ...op });
  }

  resolve(schema) {
    let s = schema;
    while (s?.$ref) s = this.doc.components.schemas[s.$ref.split('/').at(-1)];
    return s ?? {};
  }

  /** Whether the API serves an operation (issue 16's routes exist only once that work is merged). */
  has(operationId) {
    return this.operations.has(operationId);
  }

  /** Whether the API serves `method path` (a route of work not merged yet may be absent). */
  hasPath(path, method = 'get') {
    return Boolean(this.doc.paths[path]?.[method]);
  }

  /** The query parameters of an operation: name, schema, description. */
  params(operationId) {
    return (this.operations.get(operationId)?.parameters ?? [])
      .filter((p) => p.in === 'query')
      .map((p) => ({
        name: p.name,
        schema: this.resolve(p.schema),
        description: p.description ?? p.schema?.description,
      }));
  }

  /** The values a schema allows (an enum, or a union of constants and enums), or []. */
  values(schema) {
    const s = this.resolve(schema);
    if (s.enum) return s.enum;
    if (s.const !== undefined) return [s.const];
    for (const key of ['anyOf', 'oneOf']) if (s[key]) return s[key].flatMap((x) => this.values(x));
    return [];
  }

  paramValues(operationId, name) {
    const p = this.params(operationId).find((x) => x.name === name);
    return p ? this.values(p.schema) : [];
  }

  /** A named component schema's property (resolved), or undefined. */
  property(schemaName, prop) {
    const s = this.resolve(this.doc.components.schemas[schemaName]);
    const found =
      s.properties?.[prop] ?? s.allOf?.map((x) => this.resolve(x).properties?.[prop]).find(Boolean);
    return found ? this.resolve(found) : undefined;
  }

  propertyValues(schemaName, prop) {
    const p = this.property(schemaName, prop);
    return p ? this.values(p.items ?? p) : [];
  }

  /** The properties of a request body schema: [name, schema] pairs. */
  properties(schemaName) {
    const s = this.resolve(this.doc.components.schemas[schemaName]);
    return Object.entries(s.properties ?? {}).map(([k, v]) => [k, this.resolve(v)]);
  }
}
