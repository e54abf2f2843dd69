// Worker entry when running from the TypeScript sources: a worker does not inherit the parent's loader.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
