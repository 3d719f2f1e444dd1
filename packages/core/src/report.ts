/**
 * The evaluation report: what `mlsd eval` prints for one app and `mlsd compare` lines up across
 * apps. Every app fills the same shape, so a number in one app means the same thing as in another.
 */

/** One metric value with its bootstrap interval, when one was computed. */
export interface MetricValue {
  value: number;
  /** Lower and upper bounds of the confidence interval. */
  lower?: number;
  upper?: number;
  /** Confidence level of the interval, e.g. 0.95. */
  level?: number;
  higherIsBetter: boolean;
}

/** Serving cost of one implementation, measured by the evaluation or a benchmark. */
export interface LatencySummary {
  p50Ms: number;
  p95Ms?: number;
  p99Ms: number;
  /** Rows (or requests) per second at the measured batch size. */
  throughput?: number;
  batchSize?: number;
}

export interface ImplementationResult {
  implementation: string;
  title?: string;
  role?: 'baseline' | 'alternative' | 'chosen' | 'oracle';
  metrics: Record<string, MetricValue>;
  latency?: LatencySummary;
  modelSizeBytes?: number;
  trainingSeconds?: number;
  notes?: string;
}

export interface DatasetSummary {
  name: string;
  source: 'generated' | 'user';
  /** Rows (or queries, or images) in the evaluated split. */
  rows: number;
  split: string;
  seed?: number;
}

export interface EvaluationReport {
  caseStudy: string;
  title?: string;
  primaryMetric: string;
  dataset: DatasetSummary;
  results: ImplementationResult[];
  createdAt: string;
  notes?: string[];
}

export type ReportFormat = 'table' | 'json' | 'markdown';

/** Formats a number for a report: 4 significant decimals, NaN as "n/a". */
export function formatNumber(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return 'n/a';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const abs = Math.abs(x);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return x.toExponential(2);
  return x.toFixed(4);
}

/** `0.8123 [0.8101, 0.8144]` or `0.8123` when there is no interval. */
export function formatMetric(m: MetricValue | undefined): string {
  if (!m) return '';
  const base = formatNumber(m.value);
  return m.lower === undefined || m.upper === undefined
    ? base
    : `${base} [${formatNumber(m.lower)}, ${formatNumber(m.upper)}]`;
}

/** True when the two intervals do not overlap (both must have one). */
export function intervalsSeparate(a: MetricValue, b: MetricValue): boolean {
  if (a.lower === undefined || a.upper === undefined || b.lower === undefined || b.upper === undefined)
    return false;
  return a.upper < b.lower || b.upper < a.lower;
}

/** Rows and columns of a report, before rendering: the metrics are the union over results. */
export function reportRows(report: EvaluationReport): { header: string[]; rows: string[][] } {
  const names: string[] = [report.primaryMetric];
  for (const r of report.results)
    for (const n of Object.keys(r.metrics)) if (!names.includes(n)) names.push(n);
  const hasLatency = report.results.some((r) => r.latency);
  const header = ['implementation', 'role', ...names, ...(hasLatency ? ['p50 ms', 'p99 ms'] : [])];
  const rows = report.results.map((r) => [
    r.implementation,
    r.role ?? '',
    ...names.map((n) => formatMetric(r.metrics[n])),
    ...(hasLatency ? [formatNumber(r.latency?.p50Ms), formatNumber(r.latency?.p99Ms)] : []),
  ]);
  return { header, rows };
}

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => c.padEnd(widths[i])).join('  ');
}

/** Renders header and rows as plain aligned text. */
export function renderTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const lines = [
    pad(header, widths),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map((r) => pad(r, widths)),
  ];
  return lines.map((l) => l.trimEnd()).join('\n');
}

function escapeCell(cell: string): string {
  return cell.replace(/\|/g, '\\|');
}

/** Renders header and rows as a GitHub-flavoured Markdown table. */
export function renderMarkdown(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Renders one app's report in the chosen format. */
export function formatReport(report: EvaluationReport, format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(report, null, 2);
  const { header, rows } = reportRows(report);
  const title = `${report.title ?? report.caseStudy}: ${report.dataset.name} (${report.dataset.split}, ${report.dataset.rows} rows)`;
  const notes = report.notes?.length ? report.notes : [];
  if (format === 'markdown') {
    return `### ${title}\n\n${renderMarkdown(header, rows)}\n${notes.map((n) => `\n- ${n}`).join('')}${notes.length ? '\n' : ''}`;
  }
  return `${title}\n${renderTable(header, rows)}\n${notes.map((n) => `note: ${n}\n`).join('')}`;
}

/**
 * One table of every implementation of every case study, each on its own app's metrics.
 * Rows: (case study, implementation); columns: the primary metric of each row's app, then the
 * other metrics the apps share, so implementations that answer the same question line up.
 */
export function compareReports(reports: EvaluationReport[], format: ReportFormat): string {
  if (format === 'json') return JSON.stringify(reports, null, 2);
  const shared = new Map<string, number>();
  for (const report of reports) {
    const names = new Set<string>();
    for (const r of report.results) for (const n of Object.keys(r.metrics)) names.add(n);
    for (const n of names) shared.set(n, (shared.get(n) ?? 0) + 1);
  }
  const common = [...shared.entries()]
    .filter(([, count]) => count > 1)
    .map(([n]) => n)
    .sort();
  const header = ['case study', 'implementation', 'role', 'primary metric', 'value', ...common];
  const rows: string[][] = [];
  for (const report of reports) {
    for (const r of report.results) {
      rows.push([
        report.caseStudy,
        r.implementation,
        r.role ?? '',
        report.primaryMetric,
        formatMetric(r.metrics[report.primaryMetric]),
        ...common.map((n) => formatMetric(r.metrics[n])),
      ]);
    }
  }
  return format === 'markdown' ? `${renderMarkdown(header, rows)}\n` : `${renderTable(header, rows)}\n`;
}
