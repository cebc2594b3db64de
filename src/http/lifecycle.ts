/**
 * Readiness of this instance: not ready until the model is warmed up (server.ts marks it), and not ready again
 * once SIGTERM starts the drain, so a load balancer stops sending new requests while in-flight ones finish.
 * Liveness (/health) stays 200 throughout: the process is alive, only not taking new work.
 */
export type LifecycleState = 'starting' | 'ready' | 'draining';

export class Lifecycle {
  private current: LifecycleState;

  constructor(initial: LifecycleState = 'starting') {
    this.current = initial;
  }

  get state(): LifecycleState {
    return this.current;
  }

  get ready(): boolean {
    return this.current === 'ready';
  }

  markReady(): void {
    if (this.current === 'starting') this.current = 'ready';
  }

  startDraining(): void {
    this.current = 'draining';
  }
}
