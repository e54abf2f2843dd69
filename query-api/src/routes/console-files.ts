import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  body: Buffer;
  type: string;
}

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The browser resolves the console's bare imports (`preact`, `htm`, …) through this import map; the files are the
 * packages' own ES module builds, served from `/console/vendor/`.
 */
const IMPORT_MAP = JSON.stringify({
  imports: {
    preact: '/console/vendor/preact.js',
    'preact/hooks': '/console/vendor/preact-hooks.js',
    htm: '/console/vendor/htm.js',
    uplot: '/console/vendor/uplot.js',
  },
});
const IMPORT_MAP_TAG = `<script type="importmap">${IMPORT_MAP}</script>`;

/** Scripts from this origin only, and the one inline script: the import map, allowed by its hash. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${createHash('sha256').update(IMPORT_MAP).digest('base64')}'`,
  // uPlot and Preact set element styles; no style sheet comes from elsewhere.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
].join('; ');

function load(path: string): StaticFile {
  const type = TYPES[extname(path)] ?? 'application/octet-stream';
  let body = readFileSync(path);
  if (extname(path) === '.html')
    body = Buffer.from(body.toString('utf8').replace('<!-- importmap -->', IMPORT_MAP_TAG));
  return { body, type };
}

/** The files of one folder of `query-api/console/` (not its subfolders), read once at start-up. */
export function staticFolder(folder: string): Map<string, StaticFile> {
  const dir = join(CONSOLE_DIR, folder);
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && TYPES[extname(entry.name)]) files.set(entry.name, load(join(dir, entry.name)));
  }
  return files;
}

const require = createRequire(import.meta.url);

/** A package's folder, found from its main entry (not every package exports its package.json). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(join('node_modules', name))) dir = dirname(dir);
  return dir;
}

function vendor(pkg: string, path: string): StaticFile {
  const file = load(join(packageDir(pkg), path));
  // The source maps are not served; without the comment the browser does not ask for them.
  return {
    ...file,
    body: Buffer.from(file.body.toString('utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n')),
  };
}

export const VENDOR_FILES = new Map<string, StaticFile>([
  ['preact.js', vendor('preact', 'dist/preact.mjs')],
  ['preact-hooks.js', vendor('preact', 'hooks/dist/hooks.mjs')],
  ['htm.js', vendor('htm', 'dist/htm.mjs')],
  ['uplot.js', vendor('uplot', 'dist/uPlot.esm.js')],
  ['uplot.css', vendor('uplot', 'dist/uPlot.min.css')],
]);
