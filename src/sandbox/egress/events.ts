// The proxy's record: one NetworkEvent per request, allowed or refused, emitted once when the
// request ends, so the transcript says what every connection attempt was and what it moved.

export interface NetworkEvent {
  host: string;
  port: number;
  method: string;
  allowed: boolean;
  reason: string;
  bytesUp: number;
  bytesDown: number;
  startedAt: string;
  durationMs: number;
  /** For plain HTTP only: the URL path (query stripped), so package downloads can be recognised. */
  path?: string;
  /** The status the proxy answered the client with (the target's status for forwarded requests). */
  status?: number;
}

/** A request's event, timed from `begin`; only its first `emit` counts. */
export interface RequestEvent {
  emit(e: Omit<NetworkEvent, "method" | "startedAt" | "durationMs">): void;
}

export interface EventLog {
  begin: (method: string) => RequestEvent;
  events: () => NetworkEvent[];
  /** Resolves once every request begun so far has emitted its event (the proxy's close waits for them). */
  settled: () => Promise<void>;
}

export function createEventLog(onEvent?: (e: NetworkEvent) => void): EventLog {
  const log: NetworkEvent[] = [];
  const pending = new Set<Promise<void>>();

  const record = (e: NetworkEvent): void => {
    log.push(e);
    try {
      onEvent?.(e);
    } catch {
      // A failing listener must not take the proxy (and the phase's network) down.
    }
  };

  return {
    begin: (method) => {
      const started = Date.now();
      let done: () => void = () => {};
      const p = new Promise<void>((r) => (done = r));
      pending.add(p);
      let emitted = false;
      return {
        emit: (e) => {
          if (emitted) return;
          emitted = true;
          record({ ...e, method, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started });
          pending.delete(p);
          done();
        },
      };
    },
    events: () => [...log],
    settled: async () => {
      await Promise.all([...pending]);
    },
  };
}
