/**
 * The `mlsd` command. `runCli(argv, io)` builds the program, runs one command and returns the
 * exit code, so tests drive it without spawning a process: 0 on success, 1 when the work failed,
 * 2 when the command was called wrongly. Errors print one clear line.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import {
  type CaseStudy,
  compareReports,
  type DataSource,
  type EvaluationReport,
  formatReport,
  type ProgressReporter,
  type ReportFormat,
  type RunSize,
  type ServiceHandle,
} from '@mlsd/core';
import { Command, CommanderError, Option } from 'commander';
import { type CliConfig, ConfigError, readConfig } from './config.js';
import { createRunContext, latestReport, type Paths, resolvePaths, saveReport } from './context.js';
import { createProgressReporter } from './progress.js';
import { findStudy, type LoadedStudies, loadCaseStudies, UsageError } from './registry.js';
import { createServeAllApp, createServeAllListener, type MountedStudy } from './serve-all.js';

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
  cwd: string;
  /** Loads the case studies; tests inject their own. */
  loadStudies?: () => Promise<LoadedStudies>;
  progress?: ProgressReporter;
  /** Called with the listening server by `serve`, so callers (and tests) can stop it. */
  onListening?: (server: Server, close: () => Promise<void>) => void;
}

const REPORT_FORMATS = ['table', 'json', 'markdown'] as const;
const SIZES = ['small', 'default'] as const;

function dataSource(
  opts: { data?: string; format?: string; images?: string; opt?: string[] },
  cwd: string,
): DataSource | undefined {
  if (!opts.data) {
    if (opts.format) throw new UsageError('--format needs --data PATH (the format of your own data)');
    return undefined;
  }
  const path = resolve(cwd, opts.data);
  if (!existsSync(path)) throw new UsageError(`--data: no such file or directory: ${opts.data}`);
  const options: Record<string, string> = {};
  if (opts.images) {
    const images = resolve(cwd, opts.images);
    if (!existsSync(images)) throw new UsageError(`--images: no such directory: ${opts.images}`);
    options.images = images;
  }
  for (const pair of opts.opt ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--opt: expected key=value, got '${pair}'`);
    options[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { path, format: opts.format, options };
}

function checkFormat(study: CaseStudy, source: DataSource | undefined): void {
  if (source?.format && !study.dataFormats.some((f) => f.id === source.format)) {
    const known = study.dataFormats.map((f) => f.id);
    throw new UsageError(
      `--format: ${study.id} does not read '${source.format}'${known.length ? ` (it reads: ${known.join(', ')})` : ''}`,
    );
  }
}

function implementationList(study: CaseStudy, list: string | undefined): string[] | undefined {
  if (!list) return undefined;
  const ids = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const id of ids) {
    if (!study.implementations.some((i) => i.id === id)) {
      throw new UsageError(
        `--impl: ${study.id} has no implementation '${id}' (it has: ${study.implementations.map((i) => i.id).join(', ')})`,
      );
    }
  }
  return ids;
}

function positiveIntList(value: string, name: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new UsageError(`${name}: expected positive integers separated by commas, got '${value}'`);
  }
  return out;
}

function addDataOptions(cmd: Command): Command {
  return cmd
    .option('--data <path>', 'your own data (a file or folder); the generated world when absent')
    .option('--format <format>', "format of --data, one of the app's data formats (see mlsd list)")
    .option('--images <dir>', 'folder of images referenced by --data (detection annotations)')
    .option('--opt <key=value...>', 'extra options for the data loader, repeatable');
}

/** A stand-in for an app that could not start: every request gets 503 and the reason. */
function unavailableService(reason: string): ServiceHandle {
  return {
    handler: (_req, res) => {
      res.statusCode = 503;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ error: { code: 'unavailable', message: reason } }));
    },
    ready: async () => {
      throw new Error(reason);
    },
    close: async () => {},
  };
}

/** Runs the CLI with the given arguments (without `node mlsd`) and returns the exit code. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let config: CliConfig;
  let paths: Paths;
  try {
    config = readConfig(io.env);
    paths = resolvePaths(config, io.cwd);
  } catch (err) {
    io.stderr(`mlsd: ${err instanceof ConfigError ? err.message : String(err)}\n`);
    return 2;
  }
  let loaded: LoadedStudies | undefined;
  const studies = async () => {
    loaded ??= await (io.loadStudies ?? loadCaseStudies)();
    return loaded;
  };
  const progress = () => io.progress ?? createProgressReporter();
  const seedOf = (opts: { seed?: string }) => {
    if (opts.seed === undefined) return config.MLSD_SEED;
    const seed = Number(opts.seed);
    if (!Number.isInteger(seed)) throw new UsageError(`--seed: expected an integer, got '${opts.seed}'`);
    return seed;
  };

  const program = new Command('mlsd')
    .description('Run, train, evaluate, compare and benchmark the ML system design case studies.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run mlsd --help for usage)');

  program
    .command('list')
    .description('list the registered case studies, their implementations and the data formats they read')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const { studies: list, failures } = await studies();
      if (opts.json) {
        io.stdout(
          `${JSON.stringify(
            list.map(({ id, title, chapter, task, primaryMetric, implementations, dataFormats }) => ({
              id,
              title,
              chapter,
              task,
              primaryMetric,
              implementations,
              dataFormats,
            })),
            null,
            2,
          )}\n`,
        );
      } else if (list.length === 0) {
        io.stdout('No case studies are registered yet.\n');
      } else {
        for (const s of list) {
          io.stdout(`${s.id}  (case study ${s.chapter - 1}) ${s.title}\n`);
          io.stdout(`  task: ${s.task.kind}; metric: ${s.primaryMetric.name}\n`);
          io.stdout(
            `  implementations: ${s.implementations.map((i) => (i.role === 'chosen' ? `${i.id}*` : i.id)).join(', ')}\n`,
          );
          if (s.dataFormats.length)
            io.stdout(`  data formats: ${s.dataFormats.map((f) => f.id).join(', ')}\n`);
        }
      }
      for (const f of failures) io.stderr(`mlsd: could not load ${f.pkg}: ${f.reason}\n`);
    });

  program
    .command('serve')
    .description('serve one case study, or every one with --all (each under /<app-id>/, index at /)')
    .argument('[app]', 'case study id')
    .option('--all', 'serve every case study on one port')
    .option('--port <port>', 'port (default: PORT or 3000)')
    .option('--host <host>', 'interface to listen on (default: HOST or 0.0.0.0)')
    .action(async (appId: string | undefined, opts: { all?: boolean; port?: string; host?: string }) => {
      if (!appId && !opts.all) throw new UsageError('serve: name a case study or pass --all');
      if (appId && opts.all) throw new UsageError('serve: pass either a case study or --all, not both');
      const port = opts.port === undefined ? config.PORT : Number(opts.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UsageError(`--port: expected 0-65535, got '${opts.port}'`);
      const { studies: list } = await studies();
      const chosen = opts.all ? list : [findStudy(list, appId!)];
      const mounted: MountedStudy[] = [];
      for (const study of chosen) {
        const ctx = createRunContext(study.id, paths, config.MLSD_SEED, progress());
        let service: ServiceHandle;
        try {
          service = await study.createApp(
            { config: { REDIS_URL: config.REDIS_URL, MLSD_API_KEY: config.MLSD_API_KEY } },
            ctx,
          );
        } catch (err) {
          // One broken app must not take the others down: it answers 503 with the reason.
          if (!opts.all) throw err;
          const reason = err instanceof Error ? err.message : String(err);
          io.stderr(`mlsd: ${study.id} is unavailable: ${reason}\n`);
          service = unavailableService(reason);
        }
        mounted.push({ study, service, report: latestReport(paths, study.id)?.report });
      }
      // node:http with the apps' own handlers under their prefixes, not express's listen: a
      // service's fast routes are answered without express in front (see createServeAllListener).
      const server = createServer(createServeAllListener(mounted, createServeAllApp(mounted)));
      server.listen(port, opts.host ?? config.HOST);
      await new Promise<void>((ok, fail) => {
        server.once('listening', ok);
        server.once('error', fail);
      });
      const address = server.address();
      const actualPort = typeof address === 'object' && address ? address.port : port;
      io.stdout(
        `mlsd: serving ${chosen.length} case ${chosen.length === 1 ? 'study' : 'studies'} on http://localhost:${actualPort}/\n`,
      );
      const close = async () => {
        await new Promise<void>((ok) => server.close(() => ok()));
        await Promise.all(mounted.map((m) => m.service.close()));
      };
      io.onListening?.(server, close);
    });

  addDataOptions(
    program
      .command('train')
      .description('train the implementations of a case study and register the models')
      .argument('<app>', 'case study id'),
  )
    .addOption(
      new Option('--size <size>', 'small for a quick run, default for the README numbers')
        .choices(SIZES)
        .default('default'),
    )
    .option('--impl <ids>', 'only these implementations, comma-separated')
    .option('--from-model <model>', 'fine-tune from a registered model (production, a version or a path)')
    .option('--out <dir>', 'write models here instead of .mlsd/models')
    .option('--seed <n>', 'random seed (default: MLSD_SEED or 42)')
    .action(async (appId: string, opts) => {
      const study = findStudy((await studies()).studies, appId);
      const data = dataSource(opts, io.cwd);
      checkFormat(study, data);
      const ctx = createRunContext(study.id, paths, seedOf(opts), progress());
      const result = await study.train(
        {
          data,
          size: opts.size as RunSize,
          implementations: implementationList(study, opts.impl),
          fromModel: opts.fromModel,
          outDir: opts.out ? resolve(io.cwd, opts.out) : undefined,
        },
        ctx,
      );
      for (const m of result.models) {
        const metrics = Object.entries(m.metrics)
          .map(([k, v]) => `${k}=${v.toPrecision(4)}`)
          .join(' ');
        io.stdout(
          `${m.implementation} ${m.version} (${m.trainingSeconds.toFixed(1)} s) ${metrics}\n  -> ${m.path}\n`,
        );
      }
    });

  addDataOptions(
    program
      .command('eval')
      .description('evaluate every implementation of a case study on the same split and metrics')
      .argument('<app>', 'case study id'),
  )
    .addOption(new Option('--size <size>', 'small for a quick run').choices(SIZES).default('default'))
    .option('--impl <ids>', 'only these implementations, comma-separated')
    .option('--models <dir>', 'use models from this folder instead of the committed defaults')
    .option('--bootstrap <n>', 'bootstrap resamples for the intervals (0 for none)', '1000')
    .addOption(
      new Option('--report-format <format>', 'how to print the report')
        .choices(REPORT_FORMATS)
        .default('table'),
    )
    .option('--seed <n>', 'random seed (default: MLSD_SEED or 42)')
    .action(async (appId: string, opts) => {
      const study = findStudy((await studies()).studies, appId);
      const data = dataSource(opts, io.cwd);
      checkFormat(study, data);
      const bootstrap = Number(opts.bootstrap);
      if (!Number.isInteger(bootstrap) || bootstrap < 0)
        throw new UsageError(`--bootstrap: expected an integer >= 0, got '${opts.bootstrap}'`);
      const ctx = createRunContext(study.id, paths, seedOf(opts), progress());
      const report = await study.evaluate(
        {
          data,
          size: opts.size as RunSize,
          implementations: implementationList(study, opts.impl),
          modelsDir: opts.models ? resolve(io.cwd, opts.models) : undefined,
          bootstrap,
        },
        ctx,
      );
      const file = saveReport(paths, report);
      io.stdout(formatReport(report, opts.reportFormat as ReportFormat));
      io.stderr(`mlsd: report saved to ${file}\n`);
    });

  program
    .command('compare')
    .description('one table of every implementation of every case study, from the latest evaluations')
    .option('--apps <ids>', 'only these case studies, comma-separated')
    .addOption(new Option('--format <format>', 'output format').choices(REPORT_FORMATS).default('table'))
    .action(async (opts: { apps?: string; format: ReportFormat }) => {
      const { studies: list } = await studies();
      const chosen = opts.apps ? opts.apps.split(',').map((id) => findStudy(list, id.trim())) : list;
      const reports: EvaluationReport[] = [];
      const missing: string[] = [];
      for (const study of chosen) {
        const latest = latestReport(paths, study.id);
        if (latest) reports.push(latest.report);
        else missing.push(study.id);
      }
      if (reports.length === 0) {
        io.stdout(
          chosen.length === 0
            ? 'No case studies are registered yet.\n'
            : `No evaluation reports yet: run mlsd eval <app> first (${missing.join(', ')}).\n`,
        );
        return;
      }
      io.stdout(compareReports(reports, opts.format));
      if (missing.length) io.stderr(`mlsd: not evaluated yet: ${missing.join(', ')}\n`);
    });

  program
    .command('bench')
    .description("load-test a case study's main route and report throughput and latency percentiles")
    .argument('<app>', 'case study id')
    .option('--concurrency <list>', 'concurrency levels, comma-separated', '1,16,64')
    .option('--duration <seconds>', 'seconds per level', '10')
    .action(async (appId: string, opts: { concurrency: string; duration: string }) => {
      const study = findStudy((await studies()).studies, appId);
      if (!study.bench) throw new UsageError(`bench: ${study.id} has no benchmark yet`);
      const concurrency = positiveIntList(opts.concurrency, '--concurrency');
      const [durationSeconds] = positiveIntList(opts.duration, '--duration');
      const ctx = createRunContext(study.id, paths, config.MLSD_SEED, progress());
      const result = await study.bench({ concurrency, durationSeconds }, ctx);
      io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    });

  program
    .command('simulate')
    .description('replay traffic against a case study (with --drift, shifted traffic) so monitoring has data')
    .argument('<app>', 'case study id')
    .option('--drift', 'replay shifted traffic')
    .option('--requests <n>', 'how many requests or events', '2000')
    .option('--target <url>', 'base URL of a running service (default: serve the app in-process)')
    .action(async (appId: string, opts: { drift?: boolean; requests: string; target?: string }) => {
      const study = findStudy((await studies()).studies, appId);
      if (!study.simulate) throw new UsageError(`simulate: ${study.id} has no traffic simulation yet`);
      const [requests] = positiveIntList(opts.requests, '--requests');
      if (opts.target && !/^https?:\/\//.test(opts.target)) {
        throw new UsageError(`--target: expected an http(s) URL, got '${opts.target}'`);
      }
      const ctx = createRunContext(study.id, paths, config.MLSD_SEED, progress());
      const result = await study.simulate({ drift: Boolean(opts.drift), requests, target: opts.target }, ctx);
      io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    });

  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message; help and version are not errors.
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    if (err instanceof UsageError) {
      io.stderr(`mlsd: ${err.message}\n`);
      return 2;
    }
    const message =
      err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
    io.stderr(`mlsd: ${message}\n`);
    if (io.env.MLSD_DEBUG && err instanceof Error && err.stack) io.stderr(`${err.stack}\n`);
    return 1;
  }
}
