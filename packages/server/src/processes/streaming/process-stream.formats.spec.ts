import { ProcessMessage } from '../domain/process-message';
import { NdjsonFormat, SseFormat } from './process-stream.formats';
import {
  decodeEntry,
  encodeEntry,
} from '../../event-bus/engine/stream-entry.codec';

const message: ProcessMessage = {
  seq: 7,
  processId: 'run-1',
  type: 'text',
  turn: 1,
  payload: { text: 'two\nlines\r\nand \u2028' },
  createdAt: '2024-01-01T00:00:00.000Z',
};

describe('SseFormat', () => {
  const sse = new SseFormat(3000);

  it('starts with the retry line', () => {
    expect(sse.preamble()).toBe('retry: 3000\n\n');
  });

  it('sends a message with its seq as id on one data line, whatever the payload holds', () => {
    const frame = sse.messages([message]);
    expect(frame).toBe(
      `id: 7\nevent: message\ndata: ${JSON.stringify(message)}\n\n`,
    );
    expect(frame.split('\n')).toHaveLength(5);
  });

  it('sends a live message read from the log as its stored text, without encoding it again', () => {
    const decoded = decodeEntry(
      'ep',
      '9-0',
      encodeEntry({ type: 'process.message', data: message, scopes: [] }, 9),
    );
    if (!decoded.ok) throw new Error(decoded.error);
    const live = decoded.event.data as ProcessMessage;
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      expect(sse.messages([live])).toBe(
        `id: 7\nevent: message\ndata: ${JSON.stringify(message)}\n\n`,
      );
      expect(new NdjsonFormat().messages([live])).toBe(
        `${JSON.stringify({ event: 'message', message })}\n`,
      );
      expect(stringify.mock.calls.map(([value]) => value)).not.toContain(live);
    } finally {
      stringify.mockRestore();
    }
  });

  it('sends status and end without an id, so Last-Event-ID stays the last seq', () => {
    expect(sse.status('completed', 'running')).toBe(
      'event: status\ndata: {"status":"completed","previous":"running"}\n\n',
    );
    expect(sse.end('completed')).toBe(
      'event: end\ndata: {"status":"completed"}\n\n',
    );
  });

  it('sends heartbeats as comments', () => {
    expect(sse.heartbeat()).toBe(': heartbeat\n\n');
  });
});

describe('NdjsonFormat', () => {
  const ndjson = new NdjsonFormat();

  it('sends one JSON object per line', () => {
    const text =
      ndjson.preamble() +
      ndjson.messages([message, { ...message, seq: 8 }]) +
      ndjson.status('failed', null) +
      ndjson.heartbeat() +
      ndjson.end('failed');
    expect(
      text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { event: 'message', message },
      { event: 'message', message: { ...message, seq: 8 } },
      { event: 'status', status: 'failed', previous: null },
      { event: 'heartbeat' },
      { event: 'end', status: 'failed' },
    ]);
  });
});

describe('message frames', () => {
  it('are encoded once per message object and reused by every stream that sends it', () => {
    const shared: ProcessMessage = { ...message, seq: 8, payload: { v: 1 } };
    const first = new SseFormat(3000).messages([shared]);
    const firstLine = new NdjsonFormat().messages([shared]);
    // Messages are immutable once stored; mutating one shows the frame is reused.
    (shared as { payload: unknown }).payload = { v: 2 };
    expect(new SseFormat(1000).messages([shared])).toBe(first);
    expect(new NdjsonFormat().messages([shared])).toBe(firstLine);
    expect(first).toContain('{"v":1}');
  });
});
