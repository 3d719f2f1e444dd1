/**
 * `mlsd serve --all`: every case study's service mounted under `/<app-id>/` on one port, with an
 * index at `/` listing the case studies and their latest evaluation.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CaseStudy, EvaluationReport, ServiceHandle } from '@mlsd/core';
import { formatMetric } from '@mlsd/core';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';

export interface MountedStudy {
  study: CaseStudy;
  service: ServiceHandle;
  report?: EvaluationReport;
}

interface IndexEntry {
  id: string;
  title: string;
  chapter: number;
  task: string;
  path: string;
  primaryMetric: string;
  chosen: { implementation: string; value: string } | null;
  evaluatedAt: string | null;
}

/**
 * The report row of the chosen implementation: the row named by its id, or else its first variant
 * (an app that evaluates one implementation several ways names the rows `id (variant)`, e.g.
 * visual search's `cnn-contrastive (exact)` and `cnn-contrastive (hnsw)`).
 */
export function chosenResult<R extends { implementation: string }>(
  results: readonly R[],
  id: string,
): R | undefined {
  return (
    results.find((r) => r.implementation === id) ??
    results.find((r) => r.implementation.startsWith(`${id} (`))
  );
}

function indexEntries(mounted: MountedStudy[]): IndexEntry[] {
  return mounted.map(({ study, report }) => {
    const chosenId = study.implementations.find((i) => i.role === 'chosen')?.id;
    const result = chosenId ? chosenResult(report?.results ?? [], chosenId) : undefined;
    return {
      id: study.id,
      title: study.title,
      chapter: study.chapter,
      task: study.task.kind,
      path: `/${study.id}/`,
      primaryMetric: study.primaryMetric.name,
      chosen:
        result && chosenId
          ? { implementation: chosenId, value: formatMetric(result.metrics[study.primaryMetric.name]) }
          : null,
      evaluatedAt: report?.createdAt ?? null,
    };
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function indexHtml(entries: IndexEntry[]): string {
  const rows = entries
    .map(
      (e) =>
        `<tr><td>${e.chapter - 1}</td><td><a href="${escapeHtml(e.path)}">${escapeHtml(e.title)}</a></td><td>${escapeHtml(e.task)}</td>` +
        `<td>${escapeHtml(e.primaryMetric)}</td><td>${escapeHtml(e.chosen ? `${e.chosen.value} (${e.chosen.implementation})` : 'not evaluated')}</td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ML system design case studies</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse}td,th{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}</style>
</head><body><h1>ML system design case studies</h1>
${entries.length ? `<table><thead><tr><th>#</th><th>case study</th><th>task</th><th>metric</th><th>chosen model</th></tr></thead><tbody>\n${rows}\n</tbody></table>` : '<p>No case study is registered yet.</p>'}
<p><a href="/healthz">/healthz</a></p></body></html>`;
}

/** Builds the combined app; it never listens. */
export function createServeAllApp(mounted: MountedStudy[]): Express {
  const app = express();
  app.disable('x-powered-by');
  const entries = indexEntries(mounted);
  app.get('/', (req: Request, res: Response) => {
    if (req.accepts(['json', 'html']) === 'html') res.type('html').send(indexHtml(entries));
    else res.json({ caseStudies: entries });
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = await Promise.all(
      mounted.map(async ({ study, service }) => {
        try {
          return { id: study.id, ready: service.ready ? await service.ready() : true };
        } catch (err) {
          return { id: study.id, ready: false, reason: (err as Error).message };
        }
      }),
    );
    const ready = checks.every((c) => c.ready);
    res.status(ready ? 200 : 503).json({ ready, apps: checks });
  });
  for (const { study, service } of mounted) {
    app.use(`/${study.id}`, (req: Request, res: Response, next: NextFunction) =>
      service.handler(req, res, next),
    );
  }
  app.use((req: Request, res: Response) => {
    res.status(404).json({ error: { code: 'not_found', message: `no route for ${req.method} ${req.path}` } });
  });
  return app;
}

/**
 * The request listener `mlsd serve` listens with. A request under `/<app-id>` goes straight to that
 * app's handler with the node request as the app's own listener would get it (only the prefix cut
 * from the URL, as a mount does), so the routes a service answers without express (@mlsd/serving's
 * JSON and raw routes, `service.handler`) keep that fast path; everything else (the index,
 * `/healthz`, `/readyz`, unknown paths) goes to the combined express `app`.
 */
export function createServeAllListener(
  mounted: MountedStudy[],
  app: Express = createServeAllApp(mounted),
): (req: IncomingMessage, res: ServerResponse) => void {
  const services = new Map(mounted.map(({ study, service }) => [study.id, service]));
  return (req, res) => {
    const url = req.url ?? '/';
    let end = 1;
    while (end < url.length && url[end] !== '/' && url[end] !== '?') end++;
    const service = url[0] === '/' ? services.get(url.slice(1, end)) : undefined;
    if (!service) {
      app(req, res);
      return;
    }
    const originalUrl = url;
    const rest = url.slice(end);
    req.url = rest.startsWith('/') ? rest : `/${rest}`;
    // As an express mount would: the app's express routes build links from req.baseUrl (e.g.
    // street-view's job and image links) and express keeps a baseUrl it finds as the parent's.
    Object.assign(req, { baseUrl: url.slice(0, end), originalUrl });
    // What the mount's next would reach: the app left the request unanswered, or failed.
    service.handler(req, res, (err?: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const path = originalUrl.split('?')[0];
      res.statusCode = err ? 500 : 404;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(
        JSON.stringify(
          err
            ? { error: { code: 'internal', message: `${path}: the app failed` } }
            : { error: { code: 'not_found', message: `no route for ${req.method} ${path}` } },
        ),
      );
    });
  };
}
