/**
 * Where a /ads/rank request's CPU goes: `mlsd bench`'s load (100 random candidates per request) at
 * one concurrency level against a server started with `node --cpu-prof`, then the functions with
 * the most self time over the measured seconds (the end of the profile).
 *
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/profile-rank.ts [concurrency 1] [seconds 10] [top 15]
 *
 * The server is configured from the environment (INFERENCE_WORKERS=0 keeps inference on the
 * profiled thread; with a worker thread its time is in another profile). Run `npx turbo run build
 * --filter=@mlsd/ad-click-prediction` first: the server runs from dist/.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchRank } from '../dist/bench.js';

const concurrency = Number(process.argv[2] ?? 1);
const seconds = Number(process.argv[3] ?? 10);
const top = Number(process.argv[4] ?? 15);
const dir = mkdtempSync(join(tmpdir(), 'ad-rank-profile-'));
const { rows } = await benchRank({
  registryDir: new URL('../../../fixtures/ad-click-prediction/models', import.meta.url).pathname,
  concurrency: [concurrency],
  durationSeconds: seconds,
  seed: 42,
  execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`],
});
console.log(JSON.stringify(rows[0]));

interface Profile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
  endTime: number;
}
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
if (!file) throw new Error(`no CPU profile written in ${dir}`);
const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
// Sample times, then self time per function over the last `seconds` (the measured load).
let t = profile.endTime;
const times = new Array<number>(profile.samples.length);
for (let i = profile.samples.length - 1; i >= 0; i--) {
  times[i] = t;
  t -= profile.timeDeltas[i];
}
const from = profile.endTime - seconds * 1e6;
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < profile.samples.length - 1; i++) {
  if (times[i] < from) continue;
  const f = frames.get(profile.samples[i]);
  if (!f) continue;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  const dt = profile.timeDeltas[i + 1];
  self.set(key, (self.get(key) ?? 0) + dt);
  total += dt;
}
console.log(`profiled ${(total / 1e6).toFixed(1)} s of the server's main thread (${file} in ${dir})`);
for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${((100 * us) / total).toFixed(1).padStart(5)} %  ${key}`);
