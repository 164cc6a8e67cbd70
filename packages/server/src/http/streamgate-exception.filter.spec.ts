import { ArgumentsHost, Logger } from '@nestjs/common';
import { EventLogUnavailableError } from '../event-bus/domain/errors';
import { RedisUnavailableError } from '../redis/redis-command.gate';
import { StreamgateExceptionFilter } from './streamgate-exception.filter';

/** The reply methods Express and Fastify share, recording what was answered. */
function fakeResponse() {
  const answered = {
    headers: {} as Record<string, string>,
    status: 0,
    body: undefined as unknown,
  };
  const response = {
    raw: { headersSent: false, end: jest.fn() },
    header(name: string, value: string) {
      answered.headers[name] = value;
      return response;
    },
    status(code: number) {
      answered.status = code;
      return response;
    },
    send(body: unknown) {
      answered.body = body;
      return response;
    },
  };
  const host = {
    switchToHttp: () => ({ getResponse: () => response }),
  } as unknown as ArgumentsHost;
  return { answered, response, host };
}

describe('StreamgateExceptionFilter', () => {
  beforeEach(() => jest.spyOn(Logger.prototype, 'warn').mockImplementation());
  afterEach(() => jest.restoreAllMocks());

  describe('when the event log is unavailable', () => {
    it('answers 503 with Retry-After and the error text', () => {
      const { answered, host } = fakeResponse();
      new StreamgateExceptionFilter().catch(
        new EventLogUnavailableError('The log could not be written; retry.'),
        host,
      );
      expect(answered).toEqual({
        headers: { 'Retry-After': '1' },
        status: 503,
        body: {
          message: 'The log could not be written; retry.',
          error: 'Service Unavailable',
          statusCode: 503,
        },
      });
    });
  });

  describe('when Redis is unavailable', () => {
    it('answers 503 with Retry-After without the driver text', () => {
      const { answered, host } = fakeResponse();
      new StreamgateExceptionFilter().catch(
        new RedisUnavailableError('connect ECONNREFUSED 10.0.0.7:6379'),
        host,
      );
      expect(answered.status).toBe(503);
      expect(answered.headers).toEqual({ 'Retry-After': '1' });
      expect(JSON.stringify(answered.body)).not.toContain('10.0.0.7');
    });
  });

  describe('when the response is already streaming', () => {
    it('ends it and adds nothing', () => {
      const { answered, response, host } = fakeResponse();
      response.raw.headersSent = true;
      new StreamgateExceptionFilter().catch(
        new EventLogUnavailableError('gone'),
        host,
      );
      expect(response.raw.end).toHaveBeenCalled();
      expect(answered.status).toBe(0);
    });
  });
});
