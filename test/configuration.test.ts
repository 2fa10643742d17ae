import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('configuration', () => {
  it('defaults to sandbox mode on port 4000 with the embedded database', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ mode: 'sandbox', port: 4000, host: '127.0.0.1', dbPath: path.resolve('data/giftgraph.db') });
  });

  it('goes live when credentials are set, and then needs a JWT secret', () => {
    expect(() => loadConfig({ GUUSTO_API_TOKEN: 'x', GUUSTO_WORKSPACE_ID: '444' })).toThrow(/GIFTGRAPH_JWT_SECRET is required in live mode/);
    const live = loadConfig({ GUUSTO_API_TOKEN: 'x', GUUSTO_WORKSPACE_ID: '444', GIFTGRAPH_JWT_SECRET: 's'.repeat(32) });
    expect(live.mode).toBe('live');
    expect(live.live.guusto).toEqual({ token: 'x', workspaceId: '444', baseUrl: 'https://api.guusto.com' });
  });

  it('names every wrong value at once, and never prints a secret', () => {
    try {
      loadConfig({ PORT: 'eighty', GIFTGRAPH_MODE: 'staging', GUUSTO_API_TOKEN: 'super-secret-token', GIFTGRAPH_JWT_SECRET: 'short' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toMatch(/PORT/);
      expect(message).toMatch(/GIFTGRAPH_MODE/);
      expect(message).toMatch(/GIFTGRAPH_JWT_SECRET must be at least 32 characters/);
      expect(message).toMatch(/GUUSTO_WORKSPACE_ID is required when GUUSTO_API_TOKEN is set/);
      expect(message).not.toContain('super-secret-token');
    }
  });

  it('never mixes live credentials with sandboxes', () => {
    expect(() => loadConfig({ GIFTGRAPH_MODE: 'sandbox', GUUSTO_API_TOKEN: 'x', GUUSTO_WORKSPACE_ID: '1' })).toThrow(/live never mixes with sandboxes/);
    expect(() => loadConfig({ GIFTGRAPH_MODE: 'live', GIFTGRAPH_JWT_SECRET: 's'.repeat(32) })).toThrow(/needs credentials/);
  });
});
