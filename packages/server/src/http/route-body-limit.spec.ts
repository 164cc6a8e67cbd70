import {
  checkMaxBodyBytes,
  DEFAULT_MAX_BODY_BYTES,
  RouteBodyLimits,
} from './route-body-limit';

describe('RouteBodyLimits', () => {
  const limits = new RouteBodyLimits();
  limits.add([{ method: 'POST', path: 'events' }], 100);
  limits.add(
    [
      { method: 'POST', path: 'processes/:id/messages' },
      { method: 'PUT', path: 'processes/:id/status' },
    ],
    200,
  );

  describe('when a request names one of the routes', () => {
    it.each([
      ['POST', '/events', '', 100],
      ['post', '/events/?x=1', '', 100],
      ['POST', '/api/events', 'api', 100],
      ['POST', '/API/Events', '/api/', 100],
      ['POST', '/processes/p-1/messages', '', 200],
      ['PUT', '/processes/:id/status', '', 200],
    ])('%s %s (prefix %j) has its limit', (method, path, prefix, limit) => {
      expect(limits.limitFor(method, path, prefix)).toBe(limit);
    });
  });

  describe('when a request names another route', () => {
    it.each([
      ['GET', '/events', ''],
      ['POST', '/events/1', ''],
      ['POST', '/events', 'api'],
      ['POST', '/web/events', 'api'],
      ['POST', '/processes//messages', ''],
      ['PUT', '/processes/p-1/messages', ''],
    ])('%s %s (prefix %j) has none', (method, path, prefix) => {
      expect(limits.limitFor(method, path, prefix)).toBeUndefined();
    });

    it('compares case when the router does', () => {
      expect(limits.limitFor('POST', '/Events', '', true)).toBeUndefined();
    });
  });
});

describe('checkMaxBodyBytes', () => {
  it('defaults to 1 MiB', () => {
    expect(checkMaxBodyBytes(undefined, 'X')).toBe(DEFAULT_MAX_BODY_BYTES);
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1_048_576);
  });

  it.each([0, -1, 1.5, '1mb'])('refuses %j, naming the option', (value) => {
    expect(() => checkMaxBodyBytes(value, 'EventsGatewayModule')).toThrow(
      /EventsGatewayModule maxBodyBytes must be a whole number/,
    );
  });
});
