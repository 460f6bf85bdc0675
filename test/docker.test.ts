import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';

/** No Docker engine runs here, so the deployment files are checked statically. */
describe('docker/compose.yaml', () => {
  const compose = load(readFileSync(join(__dirname, '..', 'docker', 'compose.yaml'), 'utf8')) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string>; healthcheck?: unknown; networks?: unknown }>;
  };
  const scripts = (JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  test('runs every service from the one image, each with its own database and a readiness check', () => {
    for (const name of ['identity', 'pii', 'consent', 'audit', 'gateway']) {
      const service = compose.services[name];
      expect(service.command).toEqual(['npm', 'run', `start:${name}`]);
      expect(scripts[`start:${name}`]).toBeDefined();
      expect(service.healthcheck).toBeDefined();
      expect(service.environment?.NODE_ENV).toBe('production');
      if (name !== 'gateway') expect(service.environment?.[`${name.toUpperCase()}_DATABASE_URL`]).toContain(`privgraph_${name}`);
    }
  });

  test('production settings never fall back to the development issuer or generated secrets', () => {
    const env = compose.services.identity.environment ?? {};
    expect(env.LOGTO_ENDPOINT).toMatch(/:\?/);
    expect(env.INTERNAL_API_TOKEN).toMatch(/:\?/);
    expect(env.PAIRWISE_REF_SECRET).toMatch(/:\?/);
  });

  test('the subgraphs believe forwarding headers from the gateway alone, whose address is fixed', () => {
    const gateway = compose.services.gateway.networks as Record<string, { ipv4_address?: string }>;
    const address = gateway.internal.ipv4_address;
    expect(address).toMatch(/^172\.30\.0\.\d+$/);
    for (const name of ['identity', 'pii', 'consent', 'audit']) expect(compose.services[name].environment?.TRUSTED_PROXIES).toBe(address);
    expect(compose.services.gateway.environment?.TRUSTED_PROXIES).toBe('${GATEWAY_TRUSTED_PROXIES:-}');
  });
});
