import { request, Agent } from 'node:http';

/**
 * Runs in its own process: opens `streams` SSE connections spread over
 * `processes` process ids, counts `event: message` frames, and reports when
 * every stream has received `perProcess` messages.
 */
const [base, token, streamsArg, processesArg, perProcessArg, pathTemplate] =
  process.argv.slice(2);
const streams = Number(streamsArg);
const processes = Number(processesArg);
const perProcess = Number(perProcessArg);
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
let open = 0;
let done = 0;
let delivered = 0;
let firstAt = 0;

for (let s = 0; s < streams; s++) {
  const path = pathTemplate.replace(':id', `p${s % processes}`);
  const req = request(
    `${base}${path}`,
    {
      agent,
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${token}`,
      },
    },
    (res) => {
      if (res.statusCode !== 200) {
        process.stderr.write(`stream ${s}: HTTP ${res.statusCode}\n`);
        process.exit(1);
      }
      if (++open === streams) process.stdout.write('READY\n');
      let count = 0;
      let tail = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const text = tail + chunk;
        const frames = text.split('\n\n');
        tail = frames.pop() ?? '';
        for (const frame of frames) {
          if (!frame.includes('event: message')) continue;
          if (firstAt === 0) firstAt = Date.now();
          count++;
          delivered++;
        }
        if (count === perProcess) {
          count++;
          if (++done === streams) {
            process.stdout.write(
              `RESULT ${JSON.stringify({ delivered, elapsed: (Date.now() - firstAt) / 1000 })}\n`,
            );
            process.exit(0);
          }
        }
      });
    },
  );
  req.on('error', (error) => {
    process.stderr.write(`stream ${s}: ${error.message}\n`);
    process.exit(1);
  });
  req.end();
}
