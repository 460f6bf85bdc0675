import { SERVICE_NAMES } from '../shared/config';
import { startTestStack, type TestStack } from './kit/stack';

describe('health endpoints', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack();
  });
  afterAll(() => stack?.stop());

  test('every service answers /healthz and /readyz; the gateway is ready only while every subgraph is', async () => {
    for (const service of [stack.running.gateway, ...SERVICE_NAMES.map((name) => stack.running.subgraphs[name])]) {
      const health = await fetch(`${service.url}/healthz`);
      expect({ service: service.name, status: health.status }).toEqual({ service: service.name, status: 200 });
      const ready = await fetch(`${service.url}/readyz`);
      expect({ service: service.name, status: ready.status }).toEqual({ service: service.name, status: 200 });
    }
    await stack.running.subgraphs.consent.stop();
    const degraded = await fetch(`${stack.running.gateway.url}/readyz`);
    expect(degraded.status).toBe(503);
    expect(await degraded.json()).toEqual({ status: 'unavailable', service: 'gateway' });
    expect((await fetch(`${stack.running.gateway.url}/healthz`)).status).toBe(200);
  });
});
