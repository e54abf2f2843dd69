// Worker entry: a worker does not inherit the parent's TypeScript loader, so it registers tsx itself.
import { register } from 'tsx/esm/api';

register();
await import('./decode-worker.ts');
