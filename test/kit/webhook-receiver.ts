import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request as the shop's server saw it. */
export interface ReceivedWebhook {
  headers: Record<string, string>;
  body: string;
  /** The status the receiver answered with. */
  answered: number;
  at: Date;
}

/**
 * A shop's webhook endpoint for tests, on 127.0.0.1 with a free port. It can be told to fail the next
 * N requests (HTTP 500), to be down (connection refused: the port is closed) and to hang; it verifies
 * signatures with the stock `standardwebhooks` verifier, exactly as a shop would.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private server: http.Server | undefined;
  private port = 0;
  private failuresLeft = 0;
  private hanging = false;
  private waiters: (() => void)[] = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks`;
  }

  async start(): Promise<this> {
    await this.listen(0);
    return this;
  }

  /** Closes the port: connections are refused until up(). */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (!this.server) await this.listen(this.port);
  }

  /** The next `count` requests are answered with HTTP 500. */
  failNext(count: number): void {
    this.failuresLeft = count;
  }

  /** Requests get no answer (until hang(false)). */
  hang(on = true): void {
    this.hanging = on;
  }

  async stop(): Promise<void> {
    await this.down();
  }

  /** Waits until `predicate` holds for what was received (polls on every request, up to `timeoutMs`). */
  async waitFor(predicate: (received: ReceivedWebhook[]) => boolean, timeoutMs = 30_000): Promise<ReceivedWebhook[]> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.received)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`webhook receiver: condition not met after ${timeoutMs} ms (${this.received.length} received)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** The acknowledged (2xx) requests. */
  acknowledged(): ReceivedWebhook[] {
    return this.received.filter((r) => r.answered >= 200 && r.answered < 300);
  }

  /** Verifies a received request with the stock verifier; returns the parsed payload or throws. */
  static verify(secret: string, request: ReceivedWebhook): { type: string; timestamp: string; data: Record<string, unknown> } {
    return new Webhook(secret).verify(request.body, request.headers) as { type: string; timestamp: string; data: Record<string, unknown> };
  }

  private listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (this.hanging) return;
        const failing = this.failuresLeft > 0;
        if (failing) this.failuresLeft -= 1;
        const answered = failing ? 500 : 204;
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
        this.received.push({ headers, body: Buffer.concat(chunks).toString('utf8'), answered, at: new Date() });
        // A body the platform must never store: it is not part of the delivery log.
        res.writeHead(answered, failing ? { 'content-type': 'text/plain' } : {});
        res.end(failing ? 'receiver error: secret-internal-detail' : undefined);
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.server = server;
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }
}
