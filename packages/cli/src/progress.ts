/**
 * The CLI's progress reporter: a bar on a terminal, a line every few seconds elsewhere (CI logs).
 */
import type { ProgressReporter } from '@mlsd/core';
import cliProgress from 'cli-progress';

function formatInfo(info?: Record<string, string | number>): string {
  if (!info) return '';
  return Object.entries(info)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? (Number.isInteger(v) ? v : v.toPrecision(4)) : v}`)
    .join(' ');
}

export function createProgressReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  if (stream.isTTY) return new BarReporter(stream);
  return new LineReporter(stream);
}

class BarReporter implements ProgressReporter {
  private bar: cliProgress.SingleBar | undefined;
  private stage = '';
  private value = 0;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  start(stage: string, total?: number): void {
    this.done();
    this.stage = stage;
    this.value = 0;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: total
          ? `${stage} [{bar}] {percentage}% {value}/{total} eta {eta_formatted} {info}`
          : `${stage} {value} {info}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total ?? 0, 0, { info: '' });
  }

  tick(steps = 1, info?: Record<string, string | number>): void {
    this.value += steps;
    this.bar?.update(this.value, { info: formatInfo(info) });
  }

  done(summary?: string): void {
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
      if (summary) this.stream.write(`${this.stage}: ${summary}\n`);
    }
  }

  log(message: string): void {
    this.stream.write(`${message}\n`);
  }
}

class LineReporter implements ProgressReporter {
  private stage = '';
  private total: number | undefined;
  private value = 0;
  private lastPrint = 0;
  private started = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly everyMs = 5_000,
  ) {}

  start(stage: string, total?: number): void {
    this.stage = stage;
    this.total = total;
    this.value = 0;
    this.started = Date.now();
    this.lastPrint = this.started;
    this.stream.write(`${stage}: started${total ? ` (${total} steps)` : ''}\n`);
  }

  tick(steps = 1, info?: Record<string, string | number>): void {
    this.value += steps;
    const now = Date.now();
    if (now - this.lastPrint >= this.everyMs) {
      this.lastPrint = now;
      const share = this.total ? ` ${((100 * this.value) / this.total).toFixed(0)}%` : '';
      this.stream.write(
        `${this.stage}: ${this.value}${this.total ? `/${this.total}` : ''}${share} ${formatInfo(info)}\n`,
      );
    }
  }

  done(summary?: string): void {
    if (!this.stage) return;
    const seconds = ((Date.now() - this.started) / 1000).toFixed(1);
    this.stream.write(`${this.stage}: done in ${seconds} s${summary ? `, ${summary}` : ''}\n`);
    this.stage = '';
  }

  log(message: string): void {
    this.stream.write(`${message}\n`);
  }
}
