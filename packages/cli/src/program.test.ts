import { mkdtempSync, writeFileSync } from 'node:fs';
import { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaseStudy, EvaluationReport } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { runCli } from './program.js';

/** A case study that records how the CLI called it, to test the CLI's wiring (not any model). */
function recordingStudy(calls: Array<{ method: string; args: unknown }>): CaseStudy {
  const report: EvaluationReport = {
    caseStudy: 'toy-study',
    primaryMetric: 'roc_auc',
    dataset: { name: 'toy', source: 'generated', rows: 10, split: 'test' },
    createdAt: '2026-01-01T00:00:00.000Z',
    results: [
      {
        implementation: 'constant',
        role: 'baseline',
        metrics: { roc_auc: { value: 0.5, higherIsBetter: true } },
      },
      {
        implementation: 'model',
        role: 'chosen',
        metrics: { roc_auc: { value: 0.75, lower: 0.7, upper: 0.8, level: 0.95, higherIsBetter: true } },
      },
    ],
  };
  return {
    id: 'toy-study',
    title: 'Toy study',
    chapter: 8,
    summary: 'for CLI tests',
    task: { kind: 'binary-classification', objective: 'o', input: 'i', output: 'o' },
    primaryMetric: { name: 'roc_auc', higherIsBetter: true },
    implementations: [
      { id: 'constant', title: 'Constant', role: 'baseline', description: '' },
      { id: 'model', title: 'Model', role: 'chosen', description: '' },
    ],
    dataFormats: [{ id: 'csv', description: 'rows', path: 'file' }],
    async prepare(data) {
      calls.push({ method: 'prepare', args: data });
      return { description: 'toy', rows: 10 };
    },
    async train(options, ctx) {
      calls.push({ method: 'train', args: { options, seed: ctx.seed } });
      return {
        models: [
          { implementation: 'model', path: '/x', version: 'v1', trainingSeconds: 1, metrics: { loss: 0.5 } },
        ],
      };
    },
    async evaluate(options) {
      calls.push({ method: 'evaluate', args: options });
      return report;
    },
    async createApp() {
      return {
        handler: (_req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end('{"app":"toy"}');
        },
        async close() {},
      };
    },
  };
}

function harness(env: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), 'mlsd-cli-'));
  const calls: Array<{ method: string; args: unknown }> = [];
  const out: string[] = [];
  const err: string[] = [];
  const study = recordingStudy(calls);
  const run = (...argv: string[]) =>
    runCli(argv, {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: { MLSD_HOME: join(home, '.mlsd'), MLSD_FIXTURES: join(home, 'fixtures'), ...env },
      cwd: home,
      loadStudies: async () => ({ studies: [study], failures: [] }),
      progress: { start() {}, tick() {}, done() {}, log() {} },
    });
  return { run, calls, home, out: () => out.join(''), err: () => err.join('') };
}

describe('mlsd argument errors', () => {
  it('rejects an unknown command with exit code 2 and a message naming it', async () => {
    const h = harness();
    expect(await h.run('trian', 'toy-study')).toBe(2);
    expect(h.err()).toMatch(/unknown command 'trian'/);
  });

  it('rejects an unknown case study and lists the known ones', async () => {
    const h = harness();
    expect(await h.run('train', 'no-such-app')).toBe(2);
    expect(h.err()).toBe("mlsd: unknown case study 'no-such-app' (known: toy-study)\n");
    expect(h.calls).toEqual([]);
  });

  it('requires the app argument of train', async () => {
    const h = harness();
    expect(await h.run('train')).toBe(2);
    expect(h.err()).toMatch(/missing required argument 'app'/);
  });

  it('rejects --data pointing nowhere before any work starts', async () => {
    const h = harness();
    expect(await h.run('eval', 'toy-study', '--data', 'missing.tsv')).toBe(2);
    expect(h.err()).toMatch(/--data: no such file or directory: missing.tsv/);
    expect(h.calls).toEqual([]);
  });

  it('rejects a data format the app does not read', async () => {
    const h = harness();
    writeFileSync(join(h.home, 'rows.csv'), 'a,b\n');
    expect(await h.run('train', 'toy-study', '--data', 'rows.csv', '--format', 'criteo')).toBe(2);
    expect(h.err()).toMatch(/--format: toy-study does not read 'criteo' \(it reads: csv\)/);
  });

  it('rejects --format without --data', async () => {
    const h = harness();
    expect(await h.run('train', 'toy-study', '--format', 'csv')).toBe(2);
    expect(h.err()).toMatch(/--format needs --data/);
  });

  it('rejects an unknown implementation, a bad size, a bad seed and bad report formats', async () => {
    const h = harness();
    expect(await h.run('train', 'toy-study', '--impl', 'model,gbdt')).toBe(2);
    expect(h.err()).toMatch(/--impl: toy-study has no implementation 'gbdt' \(it has: constant, model\)/);
    expect(await h.run('train', 'toy-study', '--size', 'huge')).toBe(2);
    expect(h.err()).toMatch(/argument 'huge' is invalid/);
    expect(await h.run('train', 'toy-study', '--seed', '1.5')).toBe(2);
    expect(h.err()).toMatch(/--seed: expected an integer, got '1.5'/);
    expect(await h.run('compare', '--format', 'xml')).toBe(2);
    expect(h.err()).toMatch(/Allowed choices are table, json, markdown/);
    expect(await h.run('eval', 'toy-study', '--bootstrap', '-3')).toBe(2);
    expect(h.calls).toEqual([]);
  });

  it('rejects serve without an app or --all, and with both', async () => {
    const h = harness();
    expect(await h.run('serve')).toBe(2);
    expect(h.err()).toMatch(/name a case study or pass --all/);
    expect(await h.run('serve', 'toy-study', '--all')).toBe(2);
    expect(await h.run('serve', '--all', '--port', '70000')).toBe(2);
    expect(h.err()).toMatch(/--port: expected 0-65535/);
  });

  it('reports invalid environment variables in one line', async () => {
    const h = harness({ PORT: 'eighty', REDIS_URL: 'localhost:6379' });
    expect(await h.run('list')).toBe(2);
    expect(h.err()).toMatch(/^mlsd: invalid environment: PORT: .*; REDIS_URL: must start with redis:\/\//);
  });

  it('turns a failure inside the app into one line and exit code 1', async () => {
    const h = harness();
    const code = await runCli(['train', 'toy-study'], {
      stdout: () => {},
      stderr: (t) => h.calls.push({ method: 'stderr', args: t }),
      env: { MLSD_HOME: join(h.home, '.mlsd') },
      cwd: h.home,
      loadStudies: async () => ({
        studies: [
          {
            ...recordingStudy([]),
            async train() {
              throw new RangeError('learning rate must be positive');
            },
          },
        ],
        failures: [],
      }),
      progress: { start() {}, tick() {}, done() {}, log() {} },
    });
    expect(code).toBe(1);
    expect(h.calls).toEqual([
      { method: 'stderr', args: 'mlsd: RangeError: learning rate must be positive\n' },
    ]);
  });
});

describe('mlsd serve', () => {
  /** Runs `mlsd serve ARGS` on a free loopback port with these studies; the caller stops it. */
  async function serveForTest(args: string[], studies: CaseStudy[]) {
    const home = mkdtempSync(join(tmpdir(), 'mlsd-serve-'));
    const err: string[] = [];
    let stop: (() => Promise<void>) | undefined;
    let port = 0;
    const code = await runCli(['serve', ...args, '--port', '0', '--host', '127.0.0.1'], {
      stdout: () => {},
      stderr: (t) => err.push(t),
      env: { MLSD_HOME: join(home, '.mlsd') },
      cwd: home,
      loadStudies: async () => ({ studies, failures: [] }),
      progress: { start() {}, tick() {}, done() {}, log() {} },
      onListening: (server, close) => {
        const address = server.address();
        port = typeof address === 'object' && address ? address.port : 0;
        stop = close;
      },
    });
    return { code, port, stop, err };
  }

  it('serves every app under its id, and a broken app answers 503 with its reason', async () => {
    const broken = { ...recordingStudy([]), id: 'broken-study', chapter: 9 };
    broken.createApp = async () => {
      throw new Error('no production model');
    };
    const { code, port, stop, err } = await serveForTest(['--all'], [recordingStudy([]), broken]);
    try {
      expect(code).toBe(0);
      expect(err.join('')).toContain('mlsd: broken-study is unavailable: no production model');
      const ok = await fetch(`http://127.0.0.1:${port}/toy-study/anything`);
      expect(await ok.json()).toEqual({ app: 'toy' });
      const down = await fetch(`http://127.0.0.1:${port}/broken-study/x`);
      expect(down.status).toBe(503);
      expect(((await down.json()) as { error: { message: string } }).error.message).toBe(
        'no production model',
      );
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await stop?.();
    }
  });
  it("hands an app's requests to its own handler as plain node requests, not through express", async () => {
    const study = recordingStudy([]);
    // A service's own listener (@mlsd/serving's service.handler) answers its fast routes from the
    // node request itself; behind express the request would carry express's prototype.
    study.createApp = async () => ({
      handler: (req, res, next) => {
        if (req.url?.startsWith('/missing')) return next?.();
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            plain: Object.getPrototypeOf(req) === IncomingMessage.prototype,
            url: req.url,
            base: (req as { baseUrl?: string }).baseUrl,
          }),
        );
      },
      close: async () => {},
    });
    const { code, port, stop } = await serveForTest(['toy-study'], [study]);
    try {
      expect(code).toBe(0);
      const at = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
      const base = '/toy-study';
      expect(await (await at('/toy-study/search?k=5')).json()).toEqual({
        plain: true,
        url: '/search?k=5',
        base,
      });
      expect(await (await at('/toy-study')).json()).toEqual({ plain: true, url: '/', base });
      expect(await (await at('/toy-study?x=1')).json()).toEqual({ plain: true, url: '/?x=1', base });
      // Not an app's prefix: the index app (express) answers.
      expect((await at('/toy-studyx/search')).status).toBe(404);
      expect((await at('/healthz')).status).toBe(200);
      // The app passes the request on: 404 as under express's mount.
      const missing = await at('/toy-study/missing');
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    } finally {
      await stop?.();
    }
  });
});

describe('mlsd commands', () => {
  it('lists the registered case studies with the chosen implementation starred', async () => {
    const h = harness();
    expect(await h.run('list')).toBe(0);
    expect(h.out()).toContain('toy-study  (case study 7) Toy study');
    expect(h.out()).toContain('implementations: constant, model*');
    expect(h.out()).toContain('data formats: csv');
  });

  it('says so when no case study is registered', async () => {
    const out: string[] = [];
    const code = await runCli(['list'], {
      stdout: (t) => out.push(t),
      stderr: () => {},
      env: {},
      cwd: tmpdir(),
      loadStudies: async () => ({ studies: [], failures: [] }),
    });
    expect(code).toBe(0);
    expect(out.join('')).toBe('No case studies are registered yet.\n');
  });

  it('passes data, size, implementations and seed through to train', async () => {
    const h = harness();
    writeFileSync(join(h.home, 'rows.csv'), 'a,b\n');
    const code = await h.run(
      'train',
      'toy-study',
      '--data',
      'rows.csv',
      '--format',
      'csv',
      '--size',
      'small',
      '--impl',
      'model',
      '--seed',
      '7',
      '--opt',
      'threshold=4',
    );
    expect(code).toBe(0);
    expect(h.calls).toEqual([
      {
        method: 'train',
        args: {
          options: {
            data: { path: join(h.home, 'rows.csv'), format: 'csv', options: { threshold: '4' } },
            size: 'small',
            implementations: ['model'],
            fromModel: undefined,
            outDir: undefined,
          },
          seed: 7,
        },
      },
    ]);
    expect(h.out()).toContain('model v1 (1.0 s) loss=0.5000');
  });

  it('prints the evaluation, saves it, and compare reads it back', async () => {
    const h = harness();
    expect(await h.run('compare')).toBe(0);
    expect(h.out()).toMatch(/No evaluation reports yet: run mlsd eval <app> first \(toy-study\)/);
    expect(await h.run('eval', 'toy-study', '--report-format', 'markdown', '--bootstrap', '200')).toBe(0);
    expect(h.calls.at(-1)).toMatchObject({ method: 'evaluate', args: { bootstrap: 200, size: 'default' } });
    expect(h.out()).toContain('| model | chosen | 0.7500 [0.7000, 0.8000] |');
    expect(h.err()).toMatch(/report saved to .*toy-study\.json/);
    const before = h.out().length;
    expect(await h.run('compare', '--format', 'json')).toBe(0);
    const json = h.out().slice(before);
    expect(JSON.parse(json)[0].results[1].metrics.roc_auc.value).toBe(0.75);
  });

  it('prints help listing every command', async () => {
    const h = harness();
    expect(await h.run('--help')).toBe(0);
    for (const cmd of ['list', 'serve', 'train', 'eval', 'compare', 'bench', 'simulate'])
      expect(h.out()).toContain(cmd);
  });

  it('refuses to simulate an app without a simulation, and a target that is not a URL', async () => {
    const h = harness();
    expect(await h.run('simulate', 'toy-study', '--drift')).toBe(2);
    expect(h.err()).toMatch(/toy-study has no traffic simulation yet/);
  });

  it('refuses to bench an app without a benchmark', async () => {
    const h = harness();
    expect(await h.run('bench', 'toy-study')).toBe(2);
    expect(h.err()).toMatch(/toy-study has no benchmark yet/);
    expect(await h.run('bench', 'toy-study', '--concurrency', '1,zero')).toBe(2);
  });
});
