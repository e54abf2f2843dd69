// Bedrock cross-region inference profiles (`us.`, `eu.`, `global.`, …) and the vendor namespace of its model ids.
const BEDROCK_PROFILE = /^(?:us|us-gov|eu|apac|ap|jp|au|ca|global|regional)\./;
const BEDROCK_VENDOR =
  /^(?:anthropic|meta|amazon|cohere|ai21|mistral|deepseek|openai|qwen|writer|twelvelabs)\./;
const BEDROCK_VERSION = /-v\d+(?::\d+)?$/;
// One trailing release marker: a date (2024-07-18, 20241022), an OpenAI or Gemini revision (0613, 002), `-v2`,
// `-latest`.
const RELEASE_SUFFIX = /-(?:\d{4}-\d{2}-\d{2}|20\d{6}|\d{3,4}|v\d+|latest)$/;
const COMPACT_DATE = /-(20\d{2})(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?=-|:|$)/g;

/**
 * The names a model may be priced under, most specific first: the name as sent (lower-cased), then with the
 * wrapping that providers and gateways add taken off one layer at a time — a path (`openai/gpt-4o`,
 * `models/gemini-1.5-pro`, a Bedrock ARN), a Bedrock profile, vendor and `-v1:0`, a Vertex `@version`, and
 * release dates or revisions (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-20241022`, `gemini-1.5-pro-002`).
 * Azure spells GPT-3.5 `gpt-35`.
 */
export function modelNameCandidates(model: string): string[] {
  const names: string[] = [];
  const add = (name: string) => {
    if (name && !names.includes(name)) names.push(name);
  };
  let name = model.trim().toLowerCase();
  add(name);
  add(name.replace(COMPACT_DATE, '-$1-$2-$3'));
  name = name.slice(name.lastIndexOf('/') + 1);
  add(name);
  name = name.replace(BEDROCK_PROFILE, '');
  add(name);
  if (BEDROCK_VENDOR.test(name)) {
    name = name.replace(BEDROCK_VENDOR, '').replace(BEDROCK_VERSION, '');
    add(name);
  }
  name = name.replace(/@.*$/, '').replace(/^gpt-35/, 'gpt-3.5');
  add(name);
  while (RELEASE_SUFFIX.test(name)) {
    name = name.replace(RELEASE_SUFFIX, '');
    add(name);
  }
  return names;
}
