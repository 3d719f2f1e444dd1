import { describe, expect, it } from 'vitest';
import { validateCaseStudy } from './case-study.js';
import {
  compareReports,
  type EvaluationReport,
  formatMetric,
  formatNumber,
  formatReport,
  intervalsSeparate,
  renderMarkdown,
} from './report.js';

const ads: EvaluationReport = {
  caseStudy: 'ad-click-prediction',
  primaryMetric: 'normalized_cross_entropy',
  dataset: { name: 'generated', source: 'generated', rows: 1000, split: 'test (last 2 days)' },
  createdAt: '2026-11-23T00:00:00.000Z',
  results: [
    {
      implementation: 'logistic-regression',
      role: 'baseline',
      metrics: {
        normalized_cross_entropy: { value: 0.9, lower: 0.88, upper: 0.92, higherIsBetter: false },
        roc_auc: { value: 0.7, higherIsBetter: true },
      },
    },
    {
      implementation: 'dcn-v2',
      role: 'chosen',
      metrics: {
        normalized_cross_entropy: { value: 0.8, lower: 0.79, upper: 0.81, higherIsBetter: false },
        roc_auc: { value: 0.78, higherIsBetter: true },
      },
      latency: { p50Ms: 0.06, p99Ms: 0.12 },
    },
  ],
};

const search: EvaluationReport = {
  caseStudy: 'visual-search',
  primaryMetric: 'ndcg@10',
  dataset: { name: 'generated', source: 'generated', rows: 500, split: 'test' },
  createdAt: '2026-11-23T00:00:00.000Z',
  results: [
    {
      implementation: 'cnn',
      role: 'chosen',
      metrics: {
        'ndcg@10': { value: 0.6, higherIsBetter: true },
        roc_auc: { value: 0.9, higherIsBetter: true },
      },
    },
  ],
};

describe('formatting', () => {
  it('formats numbers with four decimals, tiny and huge ones in exponent form, NaN as n/a', () => {
    expect(formatNumber(0.123456)).toBe('0.1235');
    expect(formatNumber(0)).toBe('0.0000');
    expect(formatNumber(0.00012)).toBe('1.20e-4');
    expect(formatNumber(123456)).toBe('1.23e+5');
    expect(formatNumber(Number.NaN)).toBe('n/a');
    expect(formatNumber(Number.NEGATIVE_INFINITY)).toBe('-inf');
  });

  it('shows an interval when there is one', () => {
    expect(formatMetric({ value: 0.5, lower: 0.4, upper: 0.6, higherIsBetter: true })).toBe(
      '0.5000 [0.4000, 0.6000]',
    );
    expect(formatMetric({ value: 0.5, higherIsBetter: true })).toBe('0.5000');
  });

  it('tells separate intervals from overlapping ones', () => {
    const a = ads.results[0].metrics.normalized_cross_entropy;
    const b = ads.results[1].metrics.normalized_cross_entropy;
    expect(intervalsSeparate(a, b)).toBe(true);
    expect(intervalsSeparate(a, { value: 0.9, lower: 0.91, upper: 0.95, higherIsBetter: false })).toBe(false);
    expect(intervalsSeparate(a, { value: 0.9, higherIsBetter: false })).toBe(false);
  });

  it('puts the primary metric first and latency last in a table', () => {
    const text = formatReport(ads, 'table');
    const [title, header, rule, first, second] = text.split('\n');
    expect(title).toBe('ad-click-prediction: generated (test (last 2 days), 1000 rows)');
    expect(header.split(/\s{2,}/)).toEqual([
      'implementation',
      'role',
      'normalized_cross_entropy',
      'roc_auc',
      'p50 ms',
      'p99 ms',
    ]);
    expect(rule).toMatch(/^-+( {2}-+)+$/);
    expect(first).toMatch(
      /^logistic-regression\s+baseline\s+0\.9000 \[0\.8800, 0\.9200\]\s+0\.7000\s+n\/a\s+n\/a$/,
    );
    expect(second).toMatch(/^dcn-v2\s+chosen\s+0\.8000 \[0\.7900, 0\.8100\]\s+0\.7800\s+0\.0600\s+0\.1200$/);
  });

  it('prints the notes under the table', () => {
    const text = formatReport({ ...ads, notes: ['base rate 0.02'] }, 'table');
    expect(text.trimEnd().split('\n').at(-1)).toBe('note: base rate 0.02');
    expect(formatReport({ ...ads, notes: ['base rate 0.02'] }, 'markdown')).toContain('\n- base rate 0.02\n');
  });

  it('escapes pipes in Markdown cells', () => {
    expect(renderMarkdown(['a'], [['x|y']])).toBe('| a |\n| --- |\n| x\\|y |');
  });

  it('round-trips JSON', () => {
    expect(JSON.parse(formatReport(ads, 'json'))).toEqual(ads);
  });
});

describe('compareReports', () => {
  it('lines up every implementation of every app, with the metrics the apps share', () => {
    const md = compareReports([ads, search], 'markdown').trim().split('\n');
    expect(md[0]).toBe('| case study | implementation | role | primary metric | value | roc_auc |');
    expect(md).toHaveLength(2 + 3);
    expect(md[3]).toBe(
      '| ad-click-prediction | dcn-v2 | chosen | normalized_cross_entropy | 0.8000 [0.7900, 0.8100] | 0.7800 |',
    );
    expect(md[4]).toBe('| visual-search | cnn | chosen | ndcg@10 | 0.6000 | 0.9000 |');
  });
});

describe('validateCaseStudy', () => {
  const base = {
    id: 'ad-click-prediction',
    title: 'Ad click prediction',
    chapter: 8,
    summary: '',
    task: { kind: 'binary-classification', objective: '', input: '', output: '' },
    primaryMetric: { name: 'nce', higherIsBetter: false },
    implementations: [{ id: 'dcn-v2', title: 'DCN', role: 'chosen', description: '' }],
    dataFormats: [],
    prepare: async () => ({ description: '', rows: 0 }),
    train: async () => ({ models: [] }),
    evaluate: async () => ads,
    createApp: async () => ({ handler: () => {}, close: async () => {} }),
  } as const;

  it('accepts a well-formed case study', () => {
    expect(validateCaseStudy(base as never).id).toBe('ad-click-prediction');
  });

  it('names what is wrong', () => {
    expect(() => validateCaseStudy({ ...base, id: 'Ad Click' } as never)).toThrow(
      /id must be kebab-case, got "Ad Click"/,
    );
    expect(() => validateCaseStudy({ ...base, implementations: [] } as never)).toThrow(
      /at least one implementation/,
    );
    expect(() =>
      validateCaseStudy({
        ...base,
        implementations: [{ ...base.implementations[0], role: 'baseline' }],
      } as never),
    ).toThrow(/role 'chosen'/);
    expect(() =>
      validateCaseStudy({
        ...base,
        implementations: [base.implementations[0], base.implementations[0]],
      } as never),
    ).toThrow(/"dcn-v2" appears twice/);
    expect(() => validateCaseStudy({ ...base, train: undefined } as never)).toThrow(
      /train must be a function/,
    );
  });
});
