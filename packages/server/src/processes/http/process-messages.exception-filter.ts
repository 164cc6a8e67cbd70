import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { IdempotencyKeyReusedError } from '../../event-bus/domain/errors';
import { RETRY_AFTER_SECONDS } from '../../event-bus/domain/idempotency-key';
import {
  ProcessMessageStoreUnavailableError,
  InvalidProcessMessageError,
  ProcessAlreadyEndedError,
} from '../domain/process-messages.errors';
import {
  CursorAheadOfProcessError,
  ProcessNotFoundError,
} from '../processes.errors';

type ProcessError =
  | InvalidProcessMessageError
  | CursorAheadOfProcessError
  | ProcessAlreadyEndedError
  | ProcessNotFoundError
  | ProcessMessageStoreUnavailableError
  | IdempotencyKeyReusedError;

/** Turns the module's errors into HTTP answers that name the problem. */
@Catch(
  InvalidProcessMessageError,
  CursorAheadOfProcessError,
  ProcessAlreadyEndedError,
  ProcessNotFoundError,
  ProcessMessageStoreUnavailableError,
  IdempotencyKeyReusedError,
)
export class ProcessMessagesExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProcessMessagesExceptionFilter.name);

  catch(error: ProcessError, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(error);
    if (response.headersSent) {
      response.end();
      return;
    }
    if (body.statusCode === HttpStatus.SERVICE_UNAVAILABLE)
      response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
    response.status(body.statusCode).json(body);
  }

  private toBody(error: ProcessError): Record<string, unknown> & {
    statusCode: number;
  } {
    if (
      error instanceof InvalidProcessMessageError ||
      error instanceof CursorAheadOfProcessError
    ) {
      return {
        statusCode: HttpStatus.BAD_REQUEST,
        error: 'Bad Request',
        message: error.message,
        field: error.field,
      };
    }
    if (error instanceof ProcessAlreadyEndedError) {
      return {
        statusCode: HttpStatus.CONFLICT,
        error: 'Conflict',
        message: error.message,
        processId: error.processId,
        status: error.status,
      };
    }
    if (error instanceof IdempotencyKeyReusedError) {
      return {
        statusCode: HttpStatus.UNPROCESSABLE_ENTITY,
        error: 'Unprocessable Entity',
        message:
          'The Idempotency-Key was already used for a different message; use a new key for a new request.',
      };
    }
    if (error instanceof ProcessNotFoundError) {
      return {
        statusCode: HttpStatus.NOT_FOUND,
        error: 'Not Found',
        message: error.message,
      };
    }
    // The driver's text may name hosts and tables: log it, answer generically.
    this.logger.warn(error.message);
    return {
      statusCode: HttpStatus.SERVICE_UNAVAILABLE,
      error: 'Service Unavailable',
      message:
        'The process store is unavailable; retry later (streams: reconnect with your last seq).',
    };
  }
}
