/**
 * Listening and graceful shutdown: stop accepting, let in-flight requests finish, then close the
 * service's queues and stores. Kept apart from createService so tests never open a port.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { Service } from './service.js';

/** A listening service. */
export interface Listening {
  server: Server;
  /** The port actually bound (useful with port 0). */
  port: number;
  /**
   * Stops accepting connections, waits for in-flight requests (at most `drainTimeoutMs`, then
   * drops the remaining connections), then closes the service. Idempotent.
   */
  close(): Promise<void>;
}

/** Options of {@link listen}. */
export interface ListenOptions {
  host?: string;
  /** Longest wait for in-flight requests on close, ms. Default 10000. */
  drainTimeoutMs?: number;
}

/** Listens on `port` (0 for a free one) and returns the server and its graceful `close()`. */
export async function listen(
  target: Service | Express,
  port: number,
  options: ListenOptions = {},
): Promise<Listening> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port: expected an integer 0..65535, got ${String(port)}`);
  }
  const service =
    'app' in target && typeof (target as Service).close === 'function' ? (target as Service) : null;
  const server = createServer(service ? service.handler : (target as Express));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= (async () => {
        // Readiness turns false first so a load balancer stops sending before we stop accepting.
        service?.stopAccepting();
        const drained = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), options.drainTimeoutMs ?? 10_000);
        await drained;
        clearTimeout(timer);
        if (service) await service.close();
      })();
      return closing;
    },
  };
}
