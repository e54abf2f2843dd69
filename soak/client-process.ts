import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientMessage, ClientResult, ClientSpec } from './protocol.ts';

const ENTRY = fileURLToPath(new URL('./clients/main.ts', import.meta.url));

/** A load client in a process of its own (as real clients run elsewhere): its result once it has finished. */
export class ClientProcess<R extends ClientResult = ClientResult> {
  readonly result: Promise<R>;
  private readonly child: ChildProcess;

  constructor(spec: ClientSpec) {
    this.child = fork(ENTRY, [], {
      execArgv: ['--conditions=@observatory/source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.result = new Promise<R>((resolve, reject) => {
      this.child.once('message', (m: ClientMessage) => {
        if (m.type === 'result') resolve(m.result as R);
        else reject(new Error(`${spec.role} client failed: ${m.message}`));
      });
      this.child.once('exit', (code) =>
        reject(new Error(`${spec.role} client exited (${code}) without a result`)),
      );
    });
    this.child.send(spec);
  }

  /** Asks a stream client to end its streams and report. */
  stop(): void {
    this.child.send('stop');
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
