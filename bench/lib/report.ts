/**
 * Turning measurements into what people read: the result rows of bench/results/latest.json,
 * the console table, the markdown page and the fan-out chart. Everything here is pure, so it is
 * unit-tested without a lab.
 */
import { median, ratio, round2, summarize, type Summary } from './stats.js';

/**
 * laravel-release: the Laravel example app (per-release vendor/ by composer, the four cache
 * commands); many-apps: five such apps released at once to the same servers (Flight's column),
 * against one of them alone (the peer `one_app`); start: `flight --version` against `node -e 0`.
 */
export type Scenario = 'start' | 'no-change' | 'change' | 'release' | 'laravel-release' | 'many-apps' | 'fan-out';
/** floor_app: the floor script that also runs composer and the release commands (bench/floor.sh). */
export type Peer = 'ansible' | 'capistrano' | 'floor' | 'floor_app' | 'one_app' | 'node';
export const PEERS: readonly Peer[] = ['ansible', 'capistrano', 'floor', 'floor_app', 'one_app', 'node'];
export const SCENARIOS: readonly Scenario[] = ['start', 'no-change', 'change', 'release', 'laravel-release', 'many-apps', 'fan-out'];

/** What one scenario point measured, run by run (runs alternate between the tools). */
export interface Measurement {
  scenario: Scenario;
  servers: number;
  peer?: Peer;
  /** Wall seconds of each Flight run. */
  flight: number[];
  /** Wall seconds of each peer run, same count as `flight`. */
  peerRuns?: number[];
  /** SSH logins counted on the servers during each run. */
  flightConnections?: number[];
  peerConnections?: number[];
  /** CPU seconds of each run: the tool's processes plus what sshd ran for it on the servers. */
  flightCpu?: number[];
  peerCpu?: number[];
}

/** A row of latest.json, shaped as issue 7 asks. Times are {median, min, max} in seconds. */
export interface ResultRow {
  scenario: Scenario;
  servers: number;
  flight_s: Summary;
  ansible_s?: Summary;
  capistrano_s?: Summary;
  floor_s?: Summary;
  floor_app_s?: Summary;
  one_app_s?: Summary;
  node_s?: Summary;
  ratio_vs_ansible?: number;
  ratio_vs_capistrano?: number;
  ratio_vs_floor?: number;
  ratio_vs_floor_app?: number;
  ratio_vs_one_app?: number;
  ratio_vs_node?: number;
  runs: number;
}

export function toRow(m: Measurement): ResultRow {
  const flight = summarize(m.flight);
  const row: ResultRow = { scenario: m.scenario, servers: m.servers, flight_s: flight, runs: m.flight.length };
  if (m.peer && m.peerRuns?.length) {
    const peer = summarize(m.peerRuns);
    // Keys built from the peer's name, in the issue's order: flight_s, <peer>_s, ratio_vs_<peer>, runs.
    const ordered: Record<string, unknown> = { scenario: m.scenario, servers: m.servers, flight_s: flight };
    ordered[`${m.peer}_s`] = peer;
    ordered[`ratio_vs_${m.peer}`] = ratio(peer, flight);
    ordered.runs = Math.min(m.flight.length, m.peerRuns.length);
    return ordered as unknown as ResultRow;
  }
  return row;
}

export function peerSummary(row: ResultRow): { peer: Peer; s: Summary; ratio: number } | undefined {
  for (const peer of PEERS) {
    const s = row[`${peer}_s`];
    const r = row[`ratio_vs_${peer}`];
    if (s && r !== undefined) return { peer, s, ratio: r };
  }
  return undefined;
}

export interface TargetCheck {
  target: string;
  /** The figure compared with the goal, e.g. "6.2x" or "2.1x the 1-server time". */
  value: string;
  met: boolean;
  /** False when the rows it needs are missing (a part skipped or cut short). */
  measured?: boolean;
}

const find = (rows: ResultRow[], scenario: Scenario, servers: number, peer?: Peer) =>
  rows.find((r) => r.scenario === scenario && r.servers === servers && (!peer || r[`${peer}_s`] !== undefined));

/** Issue 7's targets, judged from the medians. A target whose rows are missing says so. */
/** Flight's median over the peer's: how many times the peer's time Flight took. */
const times = (r: ResultRow, peer: Peer) => r.flight_s.median / r[`${peer}_s`]!.median;

export function checkTargets(rows: ResultRow[]): TargetCheck[] {
  const out: TargetCheck[] = [];
  const missing = (target: string): TargetCheck => ({ target, value: 'not measured', met: false, measured: false });
  const start = find(rows, 'start', 1, 'node');
  if (start) out.push({ target: '`flight --version`: under 0.15 s (median)', value: `${start.flight_s.median.toFixed(3)} s (node alone ${start.node_s!.median.toFixed(3)} s)`, met: start.flight_s.median < 0.15 });
  for (const [servers, goal] of [[10, 5], [50, 8]] as const) {
    const r = find(rows, 'no-change', servers, 'ansible');
    const target = `no-change at ${servers} servers: >= ${goal}x faster than Ansible`;
    if (r?.ratio_vs_ansible !== undefined) {
      out.push({ target, value: `${r.ratio_vs_ansible.toFixed(1)}x`, met: r.ratio_vs_ansible >= goal });
    } else if (rows.some((x) => x.scenario === 'no-change')) out.push(missing(target));
  }
  for (const [servers, goal] of [[5, 10], [25, 15]] as const) {
    const r = find(rows, 'change', servers, 'ansible');
    if (r?.ratio_vs_ansible !== undefined) out.push({ target: `first apply on ${servers} fresh servers: >= ${goal}x faster than Ansible`, value: `${r.ratio_vs_ansible.toFixed(1)}x`, met: r.ratio_vs_ansible >= goal });
  }
  const cap = find(rows, 'release', 3, 'capistrano');
  if (cap?.ratio_vs_capistrano !== undefined) {
    out.push({ target: 'release to 3 servers: faster than Capistrano', value: `${cap.ratio_vs_capistrano.toFixed(2)}x`, met: cap.ratio_vs_capistrano > 1 });
  }
  const floor = find(rows, 'release', 3, 'floor');
  if (floor?.floor_s) {
    const t = times(floor, 'floor');
    out.push({ target: 'release to 3 servers: within 1.5x the floor script', value: `${t.toFixed(2)}x the floor`, met: t <= 1.5 });
  }
  const app = find(rows, 'release', 3, 'floor_app');
  if (app?.floor_app_s) {
    const t = times(app, 'floor_app');
    out.push({ target: '(not an issue target) release to 3 servers: within 1.5x the floor with the app\'s own steps', value: `${t.toFixed(2)}x that floor`, met: t <= 1.5 });
  }
  for (const [servers, goal] of [[3, 1.2], [10, 1.5]] as const) {
    const r = find(rows, 'laravel-release', servers, 'floor_app');
    if (r) {
      const t = times(r, 'floor_app');
      out.push({ target: `Laravel release to ${servers} servers: within ${goal}x the floor with the same work`, value: `${t.toFixed(2)}x that floor`, met: t <= goal });
    }
  }
  const lcap = find(rows, 'laravel-release', 3, 'capistrano');
  if (lcap?.ratio_vs_capistrano !== undefined) {
    out.push({ target: 'Laravel release to 3 servers: >= 3x faster than Capistrano', value: `${lcap.ratio_vs_capistrano.toFixed(2)}x`, met: lcap.ratio_vs_capistrano >= 3 });
  }
  const many = find(rows, 'many-apps', 3, 'one_app');
  if (many) {
    const t = times(many, 'one_app');
    out.push({ target: '5 Laravel apps released at once to 3 servers: <= 2x one app\'s release', value: `${t.toFixed(2)}x one app`, met: t <= 2 });
  }
  const curve = rows.filter((r) => r.scenario === 'fan-out');
  const one = curve.find((r) => r.servers === 1);
  const fifty = curve.find((r) => r.servers === 50);
  if (one && fifty) {
    const t = fifty.flight_s.median / one.flight_s.median;
    out.push({ target: 'no-change at 50 servers: <= 3x the 1-server time', value: `${t.toFixed(2)}x`, met: t <= 3 });
  } else if (curve.length) out.push(missing('no-change at 50 servers: <= 3x the 1-server time'));
  return out;
}

const secs = (s: Summary) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}-${s.max.toFixed(2)})`;

/** Extra figures per row that are not in latest.json (medians): SSH logins and CPU seconds per run. */
export interface RowExtras {
  flightConnections?: number;
  peerConnections?: number;
  flightCpu?: number;
  peerCpu?: number;
}

export function extrasOf(m: Measurement): RowExtras {
  const med = (xs?: number[]) => (xs && xs.length ? median(xs) : undefined);
  return { flightConnections: med(m.flightConnections), peerConnections: med(m.peerConnections), flightCpu: med(m.flightCpu), peerCpu: med(m.peerCpu) };
}

const HEAD = ['scenario', 'servers', 'Flight s', 'peer', 'peer s', 'ratio', 'SSH logins F/peer', 'CPU s F/peer', 'runs'];

function pair(a: number | undefined, b: number | undefined, digits: number): string {
  if (a === undefined) return '-';
  return `${a.toFixed(digits)}/${b === undefined ? '-' : b.toFixed(digits)}`;
}

function cells(row: ResultRow, extras: RowExtras = {}): string[] {
  const p = peerSummary(row);
  return [
    row.scenario,
    String(row.servers),
    secs(row.flight_s),
    p?.peer ?? '-',
    p ? secs(p.s) : '-',
    p ? `${p.ratio.toFixed(2)}x` : '-',
    pair(extras.flightConnections, extras.peerConnections, 0),
    pair(extras.flightCpu, extras.peerCpu, 1),
    String(row.runs),
  ];
}

/** A fixed-width table for the terminal. */
export function textTable(rows: ResultRow[], extras: RowExtras[] = []): string {
  const body = [HEAD, ...rows.map((r, i) => cells(r, extras[i]))];
  const widths = HEAD.map((_, c) => Math.max(...body.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => (c >= 1 && c !== 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(body[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...body.slice(1).map(line)].join('\n') + '\n';
}

export function markdownTable(rows: ResultRow[], extras: RowExtras[] = []): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [`| ${HEAD.join(' | ')} |`, `|${HEAD.map((_, c) => (c >= 1 && c !== 3 ? ' ---: ' : ' --- ')).join('|')}|`];
  rows.forEach((r, i) => out.push(`| ${cells(r, extras[i]).map(esc).join(' | ')} |`));
  return out.join('\n') + '\n';
}

export function targetsMarkdown(checks: TargetCheck[]): string {
  if (!checks.length) return '';
  return ['| target | result | met |', '| --- | ---: | --- |', ...checks.map((c) => `| ${c.target} | ${c.value} | ${c.measured === false ? '-' : c.met ? 'yes' : '**no**'} |`)].join('\n') + '\n\n';
}

export function targetsText(checks: TargetCheck[]): string {
  return checks.map((c) => `${c.measured === false ? '-     ' : c.met ? 'MET   ' : 'MISSED'}  ${c.target}: ${c.value}`).join('\n') + (checks.length ? '\n' : '');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick values for an axis from 0 to at least `max`: 1, 2 or 5 times a power of ten apart. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(round2(v));
  return ticks;
}

/**
 * The fan-out curve as an SVG: Flight's no-change wall time (median, with a min-max bar) against
 * the number of servers, and the target ceiling of 3 times the 1-server time.
 */
export function fanOutSvg(rows: ResultRow[], caption: string): string {
  const points = rows.filter((r) => r.scenario === 'fan-out').sort((a, b) => a.servers - b.servers);
  const W = 720;
  const H = 420;
  const m = { left: 64, right: 24, top: 48, bottom: 64 };
  const plotW = W - m.left - m.right;
  const plotH = H - m.top - m.bottom;
  const one = points.find((p) => p.servers === 1);
  const ceiling = one ? one.flight_s.median * 3 : undefined;
  const maxX = Math.max(50, ...points.map((p) => p.servers));
  const yTicks = niceTicks(Math.max(ceiling ?? 0, ...points.map((p) => p.flight_s.max), 0.1));
  const maxY = yTicks[yTicks.length - 1]!;
  const x = (n: number) => m.left + (n / maxX) * plotW;
  const y = (s: number) => m.top + plotH - (s / maxY) * plotH;
  const f = (n: number) => n.toFixed(1);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">Flight: no-change run of a 20-task playbook, 1 to ${maxX} servers</text>`);
  // Grid and axes.
  for (const t of yTicks) {
    out.push(`<line x1="${m.left}" y1="${f(y(t))}" x2="${W - m.right}" y2="${f(y(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 8}" y="${f(y(t) + 4)}" text-anchor="end">${t}</text>`);
  }
  for (const t of niceTicks(maxX, 10).filter((v) => v <= maxX)) {
    out.push(`<line x1="${f(x(t))}" y1="${m.top + plotH}" x2="${f(x(t))}" y2="${m.top + plotH + 5}" stroke="#333"/>`);
    out.push(`<text x="${f(x(t))}" y="${m.top + plotH + 20}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<line x1="${m.left}" y1="${m.top + plotH}" x2="${W - m.right}" y2="${m.top + plotH}" stroke="#333"/>`);
  out.push(`<text x="${m.left + plotW / 2}" y="${H - 24}" text-anchor="middle">servers</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">wall time, seconds</text>`);
  if (ceiling !== undefined) {
    out.push(`<line x1="${m.left}" y1="${f(y(ceiling))}" x2="${W - m.right}" y2="${f(y(ceiling))}" stroke="#c0392b" stroke-dasharray="6 4"/>`);
    // Left, where the curve is lowest, so the label does not sit on the points.
    out.push(`<text x="${m.left + 8}" y="${f(y(ceiling) - 6)}" fill="#c0392b">target ceiling: 3 x the 1-server time (${ceiling.toFixed(2)} s)</text>`);
  }
  // Min-max bars, then the median line and points on top.
  for (const p of points) {
    out.push(`<line x1="${f(x(p.servers))}" y1="${f(y(p.flight_s.min))}" x2="${f(x(p.servers))}" y2="${f(y(p.flight_s.max))}" stroke="#7fa7d9" stroke-width="3"/>`);
  }
  if (points.length > 1) {
    out.push(`<polyline fill="none" stroke="#1f5fa8" stroke-width="2" points="${points.map((p) => `${f(x(p.servers))},${f(y(p.flight_s.median))}`).join(' ')}"/>`);
  }
  for (const p of points) {
    out.push(`<circle cx="${f(x(p.servers))}" cy="${f(y(p.flight_s.median))}" r="3.5" fill="#1f5fa8"><title>${p.servers} servers: median ${p.flight_s.median.toFixed(2)} s (min ${p.flight_s.min.toFixed(2)}, max ${p.flight_s.max.toFixed(2)}, ${p.runs} runs)</title></circle>`);
  }
  out.push(`<text x="${m.left}" y="${H - 6}" font-size="11" fill="#555">${escapeXml(caption)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
