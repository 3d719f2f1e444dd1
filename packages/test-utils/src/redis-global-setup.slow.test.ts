import { createConnection } from 'node:net';
import { expect, it } from 'vitest';
import { describeWithRedis, freePort, uniquePrefix } from './index.ts';

function command(url: string, line: string): Promise<string> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port) });
    socket.on('error', reject);
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      socket.destroy();
      resolve(chunk.toString());
    });
  });
}

describeWithRedis('private redis-server', (url) => {
  it('answers on a loopback port that is not the default 6379', async () => {
    const { hostname, port } = new URL(url);
    expect(hostname).toBe('127.0.0.1');
    expect(Number(port)).not.toBe(6379);
    expect(await command(url, 'PING')).toBe('+PONG\r\n');
  });

  it('runs without persistence, so tests leave nothing on disk', async () => {
    const reply = await command(url, 'CONFIG GET save');
    expect(reply).toContain('save');
    expect(reply).not.toMatch(/\d{3,}/);
  });
});

it('gives distinct prefixes and free ports', async () => {
  expect(uniquePrefix('a')).not.toBe(uniquePrefix('a'));
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  expect(port).toBeLessThan(65536);
});
