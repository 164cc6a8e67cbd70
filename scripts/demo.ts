/**
 * Publishes demo agent activity to a running streamgate app over
 * `POST /events`, the way a producer in another process would.
 *
 *   node -r @swc-node/register scripts/demo.ts [options]
 *
 *   --url <origin>      the app (default $STREAMGATE_URL or http://127.0.0.1:3000)
 *   --rate <n>          events per second, 0.1 to 50 (default 2)
 *   --count <n>         stop after n events (default: run until Ctrl+C)
 *   --duration <s>      stop after s seconds
 *   --agents <a,b,...>  agent names (default planner,coder,reviewer,tester)
 *
 * The token comes from $STREAMGATE_TOKEN (it needs the `events:publish`
 * scope); without it the script asks the app's development token route,
 * which only apps outside production have.
 */
import { parseArgs } from 'node:util';
import { MAX_DEMO_RATE, MIN_DEMO_RATE } from '../src/activity/activity.options';
import {
  DEFAULT_DEMO_AGENTS,
  DemoScenario,
  demoStepToEvent,
} from '../src/activity/demo.scenario';

const PUBLISH_SCOPE = 'events:publish';

class DemoScriptError extends Error {}

interface DemoScriptOptions {
  readonly url: string;
  readonly rate: number;
  readonly count: number | null;
  readonly durationMs: number | null;
  readonly agents: readonly string[];
}

function readOptions(argv: string[]): DemoScriptOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      url: { type: 'string' },
      rate: { type: 'string' },
      count: { type: 'string' },
      duration: { type: 'string' },
      agents: { type: 'string' },
    },
    strict: true,
  });
  const url = new URL(
    values.url ?? process.env.STREAMGATE_URL ?? 'http://127.0.0.1:3000',
  ).origin;
  const rate = Number(values.rate ?? 2);
  if (!(rate >= MIN_DEMO_RATE && rate <= MAX_DEMO_RATE)) {
    throw new DemoScriptError(
      `--rate must be a number from ${MIN_DEMO_RATE} to ${MAX_DEMO_RATE} (got "${values.rate}").`,
    );
  }
  const positive = (name: string, raw: string | undefined) => {
    if (raw === undefined) return null;
    const value = Number(raw);
    if (!(value > 0) || !Number.isFinite(value))
      throw new DemoScriptError(
        `--${name} must be a positive number (got "${raw}").`,
      );
    return value;
  };
  const duration = positive('duration', values.duration);
  return {
    url,
    rate,
    count: positive('count', values.count),
    durationMs: duration === null ? null : duration * 1000,
    agents: values.agents
      ? values.agents.split(',').map((a) => a.trim())
      : DEFAULT_DEMO_AGENTS,
  };
}

async function devToken(url: string): Promise<string> {
  const query = new URLSearchParams({
    sub: 'demo-script',
    scopes: PUBLISH_SCOPE,
  });
  let response: Response;
  try {
    response = await fetch(`${url}/dev/token?${query}`);
  } catch (error) {
    throw new DemoScriptError(
      `Could not reach ${url} (${(error as Error).message}). Is the app running? Start it with "npm start".`,
    );
  }
  if (response.status === 404) {
    throw new DemoScriptError(
      `${url} has no development token route (its development tools are off: NODE_ENV=production, a HOST that is not loopback, or DEV_TOOLS=0). Set STREAMGATE_TOKEN to a token with the "${PUBLISH_SCOPE}" scope, e.g. from \`node dist/cli/token.js --sub demo --scopes ${PUBLISH_SCOPE}\` run with the app's JWT_SECRET.`,
    );
  }
  if (!response.ok) {
    throw new DemoScriptError(
      `GET /dev/token answered ${response.status}: ${await response.text()}`,
    );
  }
  return ((await response.json()) as { token: string }).token;
}

async function run(options: DemoScriptOptions): Promise<number> {
  const fixedToken = process.env.STREAMGATE_TOKEN?.trim() || null;
  let token = fixedToken ?? (await devToken(options.url));
  const scenario = new DemoScenario(options.agents);
  let published = 0;
  let failed = 0;
  let failing = false;
  let stopping = false;
  const stop = () => {
    stopping = true;
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const deadline =
    options.durationMs === null ? Infinity : Date.now() + options.durationMs;
  const intervalMs = 1000 / options.rate;
  console.log(
    `Publishing demo activity to ${options.url} at ${options.rate}/s from ${options.agents.join(', ')}${options.count ? `, ${options.count} event(s)` : ''}. Ctrl+C stops.`,
  );
  let next = Date.now();
  while (!stopping && Date.now() < deadline) {
    if (options.count !== null && published >= options.count) break;
    const event = demoStepToEvent(scenario.next());
    let response: Response | null = null;
    try {
      response = await post(options.url, token, event);
      if (response.status === 401 && !fixedToken) {
        token = await devToken(options.url);
        response = await post(options.url, token, event);
      }
    } catch (error) {
      if (error instanceof DemoScriptError) throw error;
      if (!failing)
        console.warn(
          `Could not reach ${options.url} (${(error as Error).message}); retrying at the same rate.`,
        );
    }
    if (response?.ok) {
      published++;
      if (failing) console.log('Publishing again.');
      failing = false;
    } else {
      failed++;
      if (response && response.status < 500 && response.status !== 429) {
        throw new DemoScriptError(
          `POST /events answered ${response.status}: ${await response.text()}`,
        );
      }
      if (response && !failing)
        console.warn(
          `POST /events answered ${response.status}; retrying at the same rate.`,
        );
      failing = true;
    }
    next += intervalMs;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    else next = Date.now();
  }
  console.log(
    `Published ${published} event(s)${failed ? `, ${failed} attempt(s) failed` : ''}.`,
  );
  return published;
}

function post(url: string, token: string, event: unknown): Promise<Response> {
  return fetch(`${url}/events`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${token}`,
    },
    body: JSON.stringify(event),
  });
}

if (require.main === module) {
  Promise.resolve()
    .then(() => run(readOptions(process.argv.slice(2))))
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(
          error instanceof DemoScriptError || error instanceof TypeError
            ? `demo: ${(error as Error).message}`
            : error,
        );
        process.exit(1);
      },
    );
}
