import { RunningApp, startApp } from '../support/app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Request ids', () => {
  let running: RunningApp;

  beforeAll(async () => {
    running = await startApp();
  });

  afterAll(() => running.close());

  it('gives each request a new id when it brings none', async () => {
    const first = await fetch(`${running.url}/health`);
    const second = await fetch(`${running.url}/health`);
    const ids = [first, second].map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('keeps a well-formed incoming X-Request-Id, also on errors', async () => {
    const response = await fetch(`${running.url}/no-such-route`, {
      headers: { 'X-Request-Id': 'edge-7f3a.42:b_c' },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-request-id')).toBe('edge-7f3a.42:b_c');
  });

  it.each([
    ['with spaces', 'a b'],
    ['too long', 'x'.repeat(129)],
    ['with markup', '<script>'],
  ])('replaces an incoming id %s', async (_case, id) => {
    const response = await fetch(`${running.url}/health`, {
      headers: { 'X-Request-Id': id },
    });
    expect(response.headers.get('x-request-id')).toMatch(UUID);
  });
});
