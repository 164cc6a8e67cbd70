import {
  Controller,
  Get,
  Header,
  HttpException,
  HttpStatus,
  Query,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { HistoryError } from '@streamgate/protocol';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { StreamgateExceptionFilter } from '../../http/streamgate-exception.filter';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import { ChannelHistory } from '../channels/channel-history';
import { EncodedHistory, historyBodyOf } from '../channels/encoded-history';
import { HistoryDoc } from './events-history.openapi';

/** The HTTP status of each `history` error. */
export const HISTORY_ERROR_STATUS: Readonly<Record<HistoryError, number>> = {
  invalid: HttpStatus.BAD_REQUEST,
  invalid_cursor: HttpStatus.BAD_REQUEST,
  limit_exceeded: HttpStatus.BAD_REQUEST,
  forbidden: HttpStatus.FORBIDDEN,
  too_many_channels: HttpStatus.BAD_REQUEST,
  not_enabled: HttpStatus.NOT_FOUND,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  trimmed: HttpStatus.GONE,
  epoch_changed: HttpStatus.GONE,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
  not_supported: HttpStatus.NOT_IMPLEMENTED,
};

const MESSAGES: Readonly<Record<string, string>> = {
  invalid:
    'channel must be a scope string (1 to 256 characters, no surrounding spaces), and limit a whole number of at least 1.',
  invalid_cursor: 'after or until is not an event id this log issued.',
  limit_exceeded: 'limit may be at most 1000.',
  forbidden:
    'The token does not see this channel, and the channel authorizer did not grant it.',
  trimmed:
    'The log no longer holds the events after `after`; ask again without it for the oldest retained.',
  epoch_changed:
    'The log was reset since `after` was issued; ask again without it.',
  unavailable: 'The channel could not be checked or the log read; retry.',
};

/**
 * `GET /events/history`: one page of a channel's history, under the same
 * rules as the Socket.IO `history` request. `until` defaults to this node's
 * position.
 */
@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
@UseGuards(BearerAuthGuard)
@UseFilters(StreamgateExceptionFilter)
export class EventsHistoryController {
  constructor(
    private readonly history: ChannelHistory,
    private readonly hub: DeliveryHub,
  ) {}

  @Get('history')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @HistoryDoc()
  async read(
    @Query() query: Record<string, unknown>,
    @Req() request: AuthenticatedRequest,
  ): Promise<string> {
    if (!this.hub.started) await this.hub.start();
    const limit =
      query.limit === undefined || query.limit === ''
        ? undefined
        : /^\d{1,7}$/.test(String(query.limit))
          ? Number(query.limit)
          : NaN;
    const page = await this.history.page(
      request.principal!,
      request.scopes ?? [],
      new Set(),
      {
        channel: query.channel,
        after: emptyAsMissing(query.after),
        until: emptyAsMissing(query.until),
        limit,
      },
      this.hub.position,
    );
    if (!page.ok) {
      const status =
        HISTORY_ERROR_STATUS[page.error as HistoryError] ??
        HttpStatus.SERVICE_UNAVAILABLE;
      throw new HttpException(
        {
          statusCode: status,
          error: page.error,
          message: MESSAGES[page.error] ?? page.error,
        },
        status,
      );
    }
    // Stored envelope text, as the socket's acknowledgement has it.
    return historyBodyOf(new EncodedHistory(page.events, page.next));
  }
}

function emptyAsMissing(value: unknown): unknown {
  return value === '' ? undefined : value;
}
