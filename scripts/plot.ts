import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Renders the growth curves that `npm run bench` writes to docs/bench-data/
 * as SVG line charts in docs/. Plain string-built SVG: axes, ticks, labels
 * and a legend, nothing else. Where docs/bench-data/<name>.before.json
 * exists (a run of the code before the latest performance work), its streamgate
 * curve is drawn too, in orange.
 */

interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  points: [number, number][];
}

interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  xLog?: boolean;
  yLog?: boolean;
  series: Series[];
}

const WIDTH = 460;
const PLOT_HEIGHT = 232;
const MARGIN = { left: 64, right: 16, top: 36, bottom: 52 };
/** Legend rows under each panel: two entries per row. */
const LEGEND_ROWS = 3;
const HEIGHT = MARGIN.top + PLOT_HEIGHT + MARGIN.bottom + LEGEND_ROWS * 16;
const FONT = 'font-family="sans-serif" font-size="11"';

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function short(n: number): string {
  if (n >= 1e6 && n % 1e5 === 0) return `${n / 1e6}M`;
  if (n >= 1e3 && n % 100 === 0) return `${n / 1e3}k`;
  return String(Number(n.toPrecision(6)));
}

/** Ticks at 1, 2 or 5 × 10^k covering [0, max]. */
function linearTicks(max: number): number[] {
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step)
    ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(ticks[ticks.length - 1] + step);
  return ticks;
}

/** Ticks at every power of ten covering [min, max]. */
function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (
    let e = Math.floor(Math.log10(min));
    e <= Math.ceil(Math.log10(max));
    e++
  )
    ticks.push(10 ** e);
  return ticks;
}

function panel(p: Panel, offsetX: number): string {
  const xs = p.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = p.series.flatMap((s) => s.points.map(([, y]) => y));
  const xTicks = p.xLog
    ? logTicks(Math.min(...xs), Math.max(...xs))
    : linearTicks(Math.max(...xs));
  const yTicks = p.yLog
    ? logTicks(Math.min(...ys), Math.max(...ys))
    : linearTicks(Math.max(...ys));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PLOT_HEIGHT;
  const scale = (log: boolean | undefined, ticks: number[], size: number) => {
    const lo = log ? Math.log10(ticks[0]) : ticks[0];
    const hi = log
      ? Math.log10(ticks[ticks.length - 1])
      : ticks[ticks.length - 1];
    return (v: number) =>
      (((log ? Math.log10(v) : v) - lo) / (hi - lo || 1)) * size;
  };
  const sx = scale(p.xLog, xTicks, plotW);
  const sy = scale(p.yLog, yTicks, plotH);
  const X = (v: number) => (offsetX + MARGIN.left + sx(v)).toFixed(1);
  const Y = (v: number) => (MARGIN.top + plotH - sy(v)).toFixed(1);
  const out: string[] = [];
  const left = offsetX + MARGIN.left;
  const bottom = MARGIN.top + plotH;
  out.push(
    `<text x="${left + plotW / 2}" y="20" text-anchor="middle" font-family="sans-serif" font-size="13" font-weight="bold">${escape(p.title)}</text>`,
  );
  for (const t of yTicks) {
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e4e4e4"/>`,
    );
    out.push(
      `<line x1="${left - 4}" x2="${left}" y1="${Y(t)}" y2="${Y(t)}" stroke="#333"/>`,
    );
    out.push(
      `<text x="${left - 7}" y="${Y(t)}" dy="0.35em" text-anchor="end" ${FONT}>${short(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    out.push(
      `<line x1="${X(t)}" x2="${X(t)}" y1="${bottom}" y2="${bottom + 4}" stroke="#333"/>`,
    );
    out.push(
      `<text x="${X(t)}" y="${bottom + 16}" text-anchor="middle" ${FONT}>${short(t)}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left}" y1="${MARGIN.top}" y2="${bottom}" stroke="#333"/>`,
  );
  out.push(
    `<line x1="${left}" x2="${left + plotW}" y1="${bottom}" y2="${bottom}" stroke="#333"/>`,
  );
  out.push(
    `<text x="${left + plotW / 2}" y="${bottom + 34}" text-anchor="middle" ${FONT}>${escape(p.xLabel)}</text>`,
  );
  out.push(
    `<text transform="translate(${offsetX + 16} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" ${FONT}>${escape(p.yLabel)}</text>`,
  );
  for (const s of p.series) {
    const path = s.points
      .map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${X(x)} ${Y(y)}`)
      .join(' ');
    out.push(
      `<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    for (const [x, y] of s.points)
      out.push(
        `<circle cx="${X(x)}" cy="${Y(y)}" r="3" fill="${s.color}"><title>${escape(`${s.name}: ${short(x)} → ${Number(y.toPrecision(4))}`)}</title></circle>`,
      );
  }
  // Legend under the axis label, two entries per row, clear of the data.
  p.series.forEach((s, i) => {
    const x = offsetX + 16 + (i % 2) * ((WIDTH - 16) / 2);
    const y = bottom + 54 + Math.floor(i / 2) * 16;
    out.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
    );
    out.push(
      `<text x="${x + 30}" y="${y}" dy="0.35em" ${FONT}>${escape(s.name)}</text>`,
    );
  });
  return out.join('\n');
}

/** One SVG with the panels side by side. */
export function renderChart(panels: Panel[], caption: string): string {
  const width = WIDTH * panels.length;
  const height = HEIGHT + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...panels.map((p, i) => panel(p, i * WIDTH)),
    `<text x="8" y="${height - 6}" font-family="sans-serif" font-size="10" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}

/** The streamgate curve of the run before the latest performance work. */
const BEFORE = '#d1742f';
const RAW = '#888888';
const STREAMGATE = '#1f6feb';

interface GrowthPoint {
  connections: number;
  rssMiB: number;
  heapMiB: number;
  flowCpuPercent: number;
  idleCpuPercent: number;
}

type GrowthData = {
  generated: string;
  rate: number;
  groups: number;
  series: { raw: GrowthPoint[]; streamgate: GrowthPoint[] };
};

function connectionsChart(data: GrowthData, before?: GrowthData): string {
  const line = (
    name: string,
    color: string,
    points: GrowthPoint[],
    y: (p: GrowthPoint) => number,
    dashed = false,
  ): Series => ({
    name,
    color,
    dashed,
    points: points.map((p) => [p.connections, y(p)]),
  });
  const { raw, streamgate } = data.series;
  return renderChart(
    [
      {
        title: 'Server memory',
        xLabel: 'idle connections',
        yLabel: 'MiB',
        series: [
          line('streamgate RSS', STREAMGATE, streamgate, (p) => p.rssMiB),
          line('raw Socket.IO RSS', RAW, raw, (p) => p.rssMiB),
          line(
            'streamgate heap after GC',
            STREAMGATE,
            streamgate,
            (p) => p.heapMiB,
            true,
          ),
          line('raw Socket.IO heap after GC', RAW, raw, (p) => p.heapMiB, true),
          ...(before
            ? [
                line(
                  'streamgate before, heap after GC',
                  BEFORE,
                  before.series.streamgate,
                  (p) => p.heapMiB,
                  true,
                ),
              ]
            : []),
        ],
      },
      {
        title: `Server CPU at ${data.rate} events/s`,
        xLabel: 'connections',
        yLabel: '% of one core',
        series: [
          line(
            'streamgate, events flowing',
            STREAMGATE,
            streamgate,
            (p) => p.flowCpuPercent,
          ),
          line(
            'raw Socket.IO, events flowing',
            RAW,
            raw,
            (p) => p.flowCpuPercent,
          ),
          line(
            'streamgate, idle',
            STREAMGATE,
            streamgate,
            (p) => p.idleCpuPercent,
            true,
          ),
          line('raw Socket.IO, idle', RAW, raw, (p) => p.idleCpuPercent, true),
          ...(before
            ? [
                line(
                  'streamgate before, events flowing',
                  BEFORE,
                  before.series.streamgate,
                  (p) => p.flowCpuPercent,
                ),
              ]
            : []),
        ],
      },
    ],
    `Each event reaches one tenant of ${data.groups} (${100 / data.groups}% of connections). npm run bench -- growth, ${data.generated.slice(0, 10)}.`,
  );
}

interface IdleLevel {
  connections: number;
  rssMiB: number;
  heapMiB: number;
}

interface IdleResult {
  connections: number;
  base: IdleLevel;
  levels: IdleLevel[];
  idleCpuPercent: number;
}

type IdleData = {
  generated: string;
  requested: number;
  connections: number;
  capped: boolean;
  fdLimit: number;
  windowSeconds: number;
  series: { raw: IdleResult; streamgate: IdleResult };
};

/** Memory of one server on the way up to the idle-scale point, and what each connection adds. */
function idleChart(data: IdleData): string {
  const { raw, streamgate } = data.series;
  const all = (r: IdleResult) => [r.base, ...r.levels];
  const memory = (
    name: string,
    color: string,
    r: IdleResult,
    y: (l: IdleLevel) => number,
    dashed = false,
  ): Series => ({
    name,
    color,
    dashed,
    points: all(r).map((l) => [l.connections, y(l)]),
  });
  // Growth over the base, per connection: flat when each connection costs the same.
  const perConnection = (
    name: string,
    color: string,
    r: IdleResult,
    y: (l: IdleLevel) => number,
    dashed = false,
  ): Series => ({
    name,
    color,
    dashed,
    points: r.levels.map((l) => [
      l.connections,
      ((y(l) - y(r.base)) * 1024) / l.connections,
    ]),
  });
  const cap = data.capped
    ? ` Capped at ${data.connections} of ${data.requested} (${data.fdLimit} file descriptors per process).`
    : '';
  return renderChart(
    [
      {
        title: 'Server memory, idle connections',
        xLabel: 'idle connections (over a base of 50)',
        yLabel: 'MiB',
        series: [
          memory('streamgate RSS', STREAMGATE, streamgate, (l) => l.rssMiB),
          memory('raw Socket.IO RSS', RAW, raw, (l) => l.rssMiB),
          memory(
            'streamgate heap after GC',
            STREAMGATE,
            streamgate,
            (l) => l.heapMiB,
            true,
          ),
          memory(
            'raw Socket.IO heap after GC',
            RAW,
            raw,
            (l) => l.heapMiB,
            true,
          ),
        ],
      },
      {
        title: 'Memory per connection',
        xLabel: 'idle connections',
        yLabel: 'KiB per connection',
        series: [
          perConnection(
            'streamgate RSS',
            STREAMGATE,
            streamgate,
            (l) => l.rssMiB,
          ),
          perConnection('raw Socket.IO RSS', RAW, raw, (l) => l.rssMiB),
          perConnection(
            'streamgate heap after GC',
            STREAMGATE,
            streamgate,
            (l) => l.heapMiB,
            true,
          ),
          perConnection(
            'raw Socket.IO heap after GC',
            RAW,
            raw,
            (l) => l.heapMiB,
            true,
          ),
        ],
      },
    ],
    `Idle CPU (${data.windowSeconds} s, heartbeats): streamgate ${streamgate.idleCpuPercent.toFixed(1)}%, raw ${raw.idleCpuPercent.toFixed(1)}%.${cap} npm run bench -- idle, ${data.generated.slice(0, 10)}.`,
  );
}

interface ReplayPoint {
  missed: number;
  replaySeconds: number;
  xrangeSeconds: number;
}

type ReplayData = { generated: string; points: ReplayPoint[] };

function replayChart(data: ReplayData, before?: ReplayData): string {
  return renderChart(
    [
      {
        title: 'Replay time against missed events',
        xLabel: 'missed events (log)',
        yLabel: 'seconds (log)',
        xLog: true,
        yLog: true,
        series: [
          {
            name: 'streamgate replay',
            color: STREAMGATE,
            points: data.points.map((p) => [p.missed, p.replaySeconds]),
          },
          {
            name: 'raw XRANGE, pages of 500',
            color: RAW,
            points: data.points.map((p) => [p.missed, p.xrangeSeconds]),
          },
          ...(before
            ? [
                {
                  name: 'streamgate before',
                  color: BEFORE,
                  points: before.points.map(
                    (p) => [p.missed, p.replaySeconds] as [number, number],
                  ),
                },
              ]
            : []),
        ],
      },
      {
        title: 'Replay throughput',
        xLabel: 'missed events (log)',
        yLabel: 'events/s',
        xLog: true,
        series: [
          {
            name: 'streamgate replay',
            color: STREAMGATE,
            points: data.points.map((p) => [
              p.missed,
              p.missed / p.replaySeconds,
            ]),
          },
          {
            name: 'raw XRANGE',
            color: RAW,
            points: data.points.map((p) => [
              p.missed,
              p.missed / p.xrangeSeconds,
            ]),
          },
          ...(before
            ? [
                {
                  name: 'streamgate before',
                  color: BEFORE,
                  points: before.points.map(
                    (p) =>
                      [p.missed, p.missed / p.replaySeconds] as [
                        number,
                        number,
                      ],
                  ),
                },
              ]
            : []),
        ],
      },
    ],
    `One reconnecting client, server in its own process. npm run bench -- replay, ${data.generated.slice(0, 10)}.`,
  );
}

/** Renders every chart whose data exists; returns the files written. */
export function plotAll(): string[] {
  const docs = join(__dirname, '..', 'docs');
  const read = (name: string) =>
    JSON.parse(readFileSync(join(docs, 'bench-data', `${name}.json`), 'utf8'));
  const before = (name: string) => {
    const file = join(docs, 'bench-data', `${name}.before.json`);
    return existsSync(file)
      ? JSON.parse(readFileSync(file, 'utf8'))
      : undefined;
  };
  const charts: [string, string][] = [];
  try {
    charts.push([
      'connections-growth.svg',
      connectionsChart(
        read('connections-growth'),
        before('connections-growth'),
      ),
    ]);
  } catch (error) {
    console.warn(`No connections curve: ${(error as Error).message}`);
  }
  try {
    charts.push([
      'replay-growth.svg',
      replayChart(read('replay-growth'), before('replay-growth')),
    ]);
  } catch (error) {
    console.warn(`No replay curve: ${(error as Error).message}`);
  }
  if (existsSync(join(docs, 'bench-data', 'idle-connections.json')))
    charts.push(['idle-connections.svg', idleChart(read('idle-connections'))]);
  for (const [file, svg] of charts) writeFileSync(join(docs, file), svg);
  return charts.map(([file]) => `docs/${file}`);
}

if (require.main === module) {
  for (const file of plotAll()) console.log(`Wrote ${file}.`);
}
