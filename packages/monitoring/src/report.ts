/**
 * Monitoring reports: one JSON document for the `/monitoring` route of every service (latency,
 * drift, decay, estimated performance, and the alerts they raise) and a self-contained HTML page
 * of it (tables and small inline SVG charts, no external assets) that `mlsd` can write to a file.
 */
import type { DecayStatus } from './decay.js';
import type { ColumnDriftResult, DriftReport } from './drift.js';
import { describe } from './errors.js';
import type { EstimatedPerformance } from './estimate.js';
import { type LatencyQuantiles, LatencyRecorder } from './latency.js';

/** What goes into a report; every part is optional. */
export interface MonitoringReportInput {
  service?: string;
  model?: { name: string; version: string; specHash?: string; stage?: string };
  /** Latency by stage or route: recorders or their quantiles. */
  latency?: Record<string, LatencyRecorder | LatencyQuantiles>;
  drift?: DriftReport;
  decay?: DecayStatus;
  estimated?: EstimatedPerformance;
  /** Timestamp of the report; default now. */
  generatedAt?: Date;
}

/** The JSON report. Undefined numbers (NaN) appear as null. */
export interface MonitoringReport {
  format: 'mlsd-monitoring-report';
  version: 1;
  generatedAt: string;
  service: string | null;
  model: { name: string; version: string; specHash?: string; stage?: string } | null;
  /** 'alert' when decay alerts or the dataset drifts, 'warning' when a column or the prediction drifts. */
  status: 'ok' | 'warning' | 'alert';
  /** One line per finding, most severe first. */
  alerts: string[];
  latency: Record<string, LatencyQuantiles>;
  drift: DriftReport | null;
  decay: DecayStatus | null;
  estimated: EstimatedPerformance | null;
}

function alertsOf(input: MonitoringReportInput): { alerts: string[]; status: MonitoringReport['status'] } {
  const alerts: string[] = [];
  let status: MonitoringReport['status'] = 'ok';
  const d = input.decay;
  if (d?.alert) {
    status = 'alert';
    alerts.push(
      `decay: ${d.metric} ${fmt(d.current)} against ${fmt(d.baseline)} at training time (worse by ${fmt(d.drop)}, limit ${d.relativeDrop ? `${fmt(d.maxDrop * 100)} %` : fmt(d.maxDrop)})`,
    );
  }
  const drift = input.drift;
  if (drift?.drifted) {
    status = 'alert';
    alerts.push(
      `data drift: ${drift.driftedColumns} of ${drift.evaluatedColumns} columns drifted (limit ${fmt(drift.driftShare * 100)} %)`,
    );
  } else if (drift && drift.driftedColumns > 0) {
    if (status === 'ok') status = 'warning';
    alerts.push(
      `column drift: ${drift.columns
        .filter((c) => c.drifted)
        .map((c) => c.column)
        .join(', ')}`,
    );
  }
  if (drift?.prediction?.drifted) {
    if (status === 'ok') status = 'warning';
    alerts.push(`prediction drift: ${drift.prediction.test?.test} ${fmt(drift.prediction.test?.statistic)}`);
  }
  return { alerts, status };
}

/** Assemble the JSON report served on `/monitoring`. */
export function buildMonitoringReport(input: MonitoringReportInput = {}): MonitoringReport {
  if (input === null || typeof input !== 'object')
    throw new TypeError(`input: expected an object, got ${describe(input)}`);
  const latency: Record<string, LatencyQuantiles> = {};
  for (const [name, l] of Object.entries(input.latency ?? {})) {
    if (l instanceof LatencyRecorder) latency[name] = l.quantiles();
    else if (l && typeof l === 'object' && typeof (l as LatencyQuantiles).count === 'number')
      latency[name] = l;
    else
      throw new TypeError(
        `input.latency.${name}: expected a LatencyRecorder or its quantiles, got ${describe(l)}`,
      );
  }
  const { alerts, status } = alertsOf(input);
  const report: MonitoringReport = {
    format: 'mlsd-monitoring-report',
    version: 1,
    generatedAt: (input.generatedAt ?? new Date()).toISOString(),
    service: input.service ?? null,
    model: input.model ?? null,
    status,
    alerts,
    latency,
    drift: input.drift ?? null,
    decay: input.decay ?? null,
    estimated: input.estimated ?? null,
  };
  // One JSON pass makes NaN/Infinity null exactly as a client would see them.
  return JSON.parse(JSON.stringify(report)) as MonitoringReport;
}

// ---------------------------------------------------------------------------------------------
// HTML

function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(2);
  return Number(x.toPrecision(digits)).toString();
}

/** Paired bars: reference (grey) and current (blue) share per bin or category. */
function barsSvg(labels: string[], ref: number[], cur: number[], width = 220, height = 56): string {
  const n = Math.max(labels.length, 1);
  const max = Math.max(1e-9, ...ref, ...cur);
  const slot = width / n;
  const bw = Math.max(1, slot / 2 - 1);
  let bars = '';
  for (let i = 0; i < labels.length; i++) {
    const rh = ((ref[i] ?? 0) / max) * (height - 2);
    const ch = ((cur[i] ?? 0) / max) * (height - 2);
    const x = i * slot;
    const title = `${esc(labels[i])}: reference ${fmt((ref[i] ?? 0) * 100)} %, current ${fmt((cur[i] ?? 0) * 100)} %`;
    bars +=
      `<g><title>${title}</title>` +
      `<rect x="${x.toFixed(1)}" y="${(height - rh).toFixed(1)}" width="${bw.toFixed(1)}" height="${rh.toFixed(1)}" fill="#9aa5b1"/>` +
      `<rect x="${(x + bw + 1).toFixed(1)}" y="${(height - ch).toFixed(1)}" width="${bw.toFixed(1)}" height="${ch.toFixed(1)}" fill="#2f6fdb"/></g>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="reference and current distribution">${bars}<line x1="0" y1="${height - 0.5}" x2="${width}" y2="${height - 0.5}" stroke="#ccd"/></svg>`;
}

/** Horizontal latency bars for p50 / p95 / p99 / p99.9 on a shared scale. */
function latencySvg(q: LatencyQuantiles, max: number, width = 220): string {
  const rows: [string, number][] = [
    ['p50', q.p50],
    ['p95', q.p95],
    ['p99', q.p99],
    ['p99.9', q.p999],
  ];
  let out = '';
  rows.forEach(([label, v], i) => {
    const w = Number.isFinite(v) && max > 0 ? (v / max) * (width - 40) : 0;
    out += `<text x="0" y="${i * 12 + 9}" font-size="9" fill="#555">${label}</text><rect x="36" y="${i * 12 + 2}" width="${w.toFixed(1)}" height="8" fill="#2f6fdb"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="50" viewBox="0 0 ${width} 50" role="img" aria-label="latency quantiles">${out}</svg>`;
}

function statusBadge(status: string): string {
  const color: Record<string, string> = {
    ok: '#1b7f3b',
    no_drift: '#1b7f3b',
    warning: '#b26b00',
    drift: '#c0392b',
    alert: '#c0392b',
    insufficient_data: '#6b7280',
    no_reference: '#6b7280',
  };
  return `<span class="badge" style="background:${color[status] ?? '#6b7280'}">${esc(status.replace(/_/g, ' '))}</span>`;
}

function columnRow(c: ColumnDriftResult): string {
  const t = c.test;
  const chart = c.distribution
    ? barsSvg(c.distribution.labels, c.distribution.reference, c.distribution.current)
    : '';
  const miss = c.current ? `${fmt(c.current.missingShare * 100)} %` : '–';
  return `<tr><td><b>${esc(c.column)}</b><div class="muted">${esc(c.kind)}</div></td><td>${statusBadge(c.status)}${c.reason ? `<div class="muted">${esc(c.reason)}</div>` : ''}</td><td>${t ? esc(t.test) : '–'}</td><td>${fmt(t?.statistic)}</td><td>${fmt(t?.pValue)}</td><td>${t ? fmt(t.threshold) : '–'}</td><td>${fmt(c.psi?.statistic)}${c.psi?.band ? ` <span class="muted">${esc(c.psi.band)}</span>` : ''}</td><td>${c.reference ? c.reference.count : '–'} / ${c.current ? c.current.count : '–'}</td><td>${miss}</td><td>${chart}</td></tr>`;
}

const STYLE = `body{font:14px/1.4 system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#1f2933;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #e4e7eb;padding-bottom:4px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{font-weight:600;color:#52606d;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.badge{color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;white-space:nowrap}.muted{color:#7b8794;font-size:12px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}ul.alerts li{margin:2px 0}`;

/** Render a report as one self-contained HTML page (no scripts, fonts or images from elsewhere). */
export function renderHtmlReport(report: MonitoringReport): string {
  if (report === null || typeof report !== 'object' || report.format !== 'mlsd-monitoring-report') {
    throw new TypeError(`report: expected the output of buildMonitoringReport, got ${describe(report)}`);
  }
  const parts: string[] = [];
  const m = report.model;
  parts.push(
    `<h1>${esc(report.service ?? 'Monitoring report')} ${statusBadge(report.status)}</h1>`,
    `<div class="muted">${m ? `model ${esc(m.name)} v${esc(m.version)}${m.stage ? ` (${esc(m.stage)})` : ''}${m.specHash ? ` · feature spec ${esc(m.specHash)}` : ''} · ` : ''}generated ${esc(report.generatedAt)}</div>`,
  );
  parts.push(
    report.alerts.length
      ? `<h2>Alerts</h2><ul class="alerts">${report.alerts.map((a) => `<li>${esc(a)}</li>`).join('')}</ul>`
      : '<h2>Alerts</h2><p class="muted">None.</p>',
  );

  const lat = Object.entries(report.latency);
  if (lat.length) {
    const max = Math.max(0, ...lat.map(([, q]) => (Number.isFinite(q.p999) ? q.p999 : 0)));
    parts.push(
      '<h2>Latency (ms)</h2><table><tr><th>stage</th><th>count</th><th>p50</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th><th>mean</th><th></th></tr>',
      ...lat.map(
        ([name, q]) =>
          `<tr><td>${esc(name)}</td><td>${q.count}</td><td>${fmt(q.p50)}</td><td>${fmt(q.p95)}</td><td>${fmt(q.p99)}</td><td>${fmt(q.p999)}</td><td>${fmt(q.max)}</td><td>${fmt(q.mean)}</td><td>${latencySvg(q, max)}</td></tr>`,
      ),
      '</table>',
    );
  }

  const d = report.drift;
  if (d) {
    const legend =
      '<div class="legend muted"><span style="background:#9aa5b1"></span>reference<span style="background:#2f6fdb"></span>current</div>';
    const head =
      '<table><tr><th>column</th><th>status</th><th>test</th><th>statistic</th><th>p-value</th><th>threshold</th><th>PSI</th><th>rows ref / cur</th><th>missing (cur)</th><th>distribution</th></tr>';
    parts.push(
      `<h2>Data drift ${statusBadge(d.status)}</h2>`,
      `<p>${d.driftedColumns} of ${d.evaluatedColumns} evaluated columns drifted (${fmt(d.shareDrifted * 100)} %; the dataset drifts from ${fmt(d.driftShare * 100)} %). Reference ${d.referenceRows} rows, current ${d.currentRows} rows.${d.unknownColumns.length ? ` Columns without reference: ${esc(d.unknownColumns.join(', '))}.` : ''}</p>`,
      legend,
      head,
      ...d.columns.map(columnRow),
      '</table>',
    );
    if (d.prediction)
      parts.push(
        `<h2>Prediction drift ${statusBadge(d.prediction.status)}</h2>`,
        head,
        columnRow(d.prediction),
        '</table>',
      );
  }

  const k = report.decay;
  if (k) {
    parts.push(
      `<h2>Model decay ${statusBadge(k.status)}</h2>`,
      '<table><tr><th>metric</th><th>training</th><th>window</th><th>worse by</th><th>limit</th><th>labelled in window</th><th>pending labels</th><th>unmatched / duplicate labels</th></tr>',
      `<tr><td>${esc(k.metric)} <span class="muted">${k.higherIsBetter ? 'higher is better' : 'lower is better'}</span></td><td>${fmt(k.baseline)}</td><td>${fmt(k.current)}</td><td>${fmt(k.drop)}</td><td>${k.relativeDrop ? `${fmt(k.maxDrop * 100)} %` : fmt(k.maxDrop)}</td><td>${k.windowCount}</td><td>${k.pending}</td><td>${k.unmatchedLabels} / ${k.duplicateLabels}</td></tr></table>`,
      k.reason ? `<p class="muted">${esc(k.reason)}</p>` : '',
    );
  }

  const e = report.estimated;
  if (e) {
    parts.push(
      '<h2>Estimated performance (no labels, assumes calibrated scores)</h2>',
      `<table><tr><th>predictions</th><th>threshold</th><th>precision</th><th>recall</th><th>accuracy</th><th>F1</th><th>ROC-AUC</th><th>positive rate</th></tr><tr><td>${e.n}</td><td>${fmt(e.threshold)}</td><td>${fmt(e.precision)}</td><td>${fmt(e.recall)}</td><td>${fmt(e.accuracy)}</td><td>${fmt(e.f1)}</td><td>${fmt(e.rocAuc)}</td><td>${fmt(e.positiveRate)}</td></tr></table>`,
    );
  }

  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${esc(report.service ?? 'Monitoring report')}</title><style>${STYLE}</style></head><body>${parts.join('\n')}</body></html>\n`;
}
