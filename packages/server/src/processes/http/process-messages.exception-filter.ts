import {
  ArgumentsHost,
  Catch,
  ExceptionFilter,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { IdempotencyKeyReusedError } from '../../event-bus/domain/errors';
import {
  AnswerableResponse,
  answer,
  RETRY_AFTER_HEADERS,
} from '../../http/http-response';
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
    const response = host.switchToHttp().getResponse<AnswerableResponse>();
    const body = this.toBody(error);
    answer(
      response,
      body.statusCode,
      body,
      body.statusCode === HttpStatus.SERVICE_UNAVAILABLE
        ? RETRY_AFTER_HEADERS
        : {},
    );
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
