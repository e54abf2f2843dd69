import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientMessage, ClientResult, ClientSpec, StreamProgress } from './protocol.ts';
import { reapOnExit } from './reaper.ts';

const ENTRY = fileURLToPath(new URL('./clients/main.ts', import.meta.url));

/** A load client in a process of its own (as real clients run elsewhere): its result once it has finished. */
export class ClientProcess<R extends ClientResult = ClientResult> {
  readonly result: Promise<R>;
  private readonly child: ChildProcess;
  private onProgress: ((streams: StreamProgress[]) => void) | undefined;

  constructor(spec: ClientSpec) {
    this.child = reapOnExit(
      fork(ENTRY, [], {
        execArgv: ['--conditions=@observatory/source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    this.result = new Promise<R>((resolve, reject) => {
      this.child.on('message', (m: ClientMessage) => {
        if (m.type === 'result') resolve(m.result as R);
        else if (m.type === 'error') reject(new Error(`${spec.role} client failed: ${m.message}`));
        else this.onProgress?.(m.streams);
      });
      this.child.once('exit', (code) =>
        reject(new Error(`${spec.role} client exited (${code}) without a result`)),
      );
    });
    // Stream clients are awaited only at the end: a failure before then must not be an unhandled rejection.
    this.result.catch(() => undefined);
    this.child.send(spec);
  }

  /** How far a stream client's streams have got. */
  progress(): Promise<StreamProgress[]> {
    return new Promise((resolve) => {
      this.onProgress = (streams) => {
        this.onProgress = undefined;
        resolve(streams);
      };
      this.child.send('progress');
    });
  }

  /** Asks a stream client to end its streams and report. */
  stop(): void {
    this.child.send('stop');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
