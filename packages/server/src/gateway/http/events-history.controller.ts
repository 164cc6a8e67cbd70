import {
  Controller,
  Get,
  Header,
  HttpException,
  HttpStatus,
  Inject,
  Query,
  Req,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import type { HistoryError } from '@streamgate/protocol';
import { BearerAuthGuard } from '../../access/bearer-auth.guard';
import type { AuthenticatedRequest } from '../../access/bearer-auth.guard';
import {
  historyPartitions,
  PARTITION_HEAD,
} from '../../channels/history/partitioned-history.reader';
import { DeliveryHub } from '../../event-bus/hub/delivery-hub';
import { PartitionedDeliveryHub } from '../../event-bus/hub/partitioned-delivery-hub';
import { StreamgateExceptionFilter } from '../../http/streamgate-exception.filter';
import { ApiBearerAuth, ApiTags } from '../../openapi/openapi.decorators';
import { ChannelHistory } from '../channels/channel-history';
import { ChannelPermissions } from '../channels/channel-permissions';
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
 *
 * On a partitioned log (`partitions` > 1) a page reads the one partition
 * that holds the channel's events visible to the caller (see
 * `historyPartitions`): `after`, `until` and `next` are partitioned ids
 * `<k>:<epoch>:<ms>-<seq>`, and `until` defaults to the partition's head.
 * A channel whose events may lie in several partitions for this caller
 * answers 501 `not_supported`, decided from the caller's own scopes before
 * anything is read.
 */
@ApiTags('events')
@ApiBearerAuth()
@Controller('events')
@UseGuards(BearerAuthGuard)
@UseFilters(StreamgateExceptionFilter)
export class EventsHistoryController {
  constructor(
    private readonly history: ChannelHistory,
    // The bus's hub: a PartitionedDeliveryHub when the log is partitioned.
    @Inject(DeliveryHub)
    private readonly hub: DeliveryHub | PartitionedDeliveryHub,
    private readonly permissions: ChannelPermissions,
  ) {}

  @Get('history')
  @Header('Content-Type', 'application/json; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  @HistoryDoc()
  async read(
    @Query() query: Record<string, unknown>,
    @Req() request: AuthenticatedRequest,
  ): Promise<string> {
    const hub = this.hub;
    let defaultUntil: string;
    let grants: ReadonlySet<string> = new Set();
    if (hub instanceof PartitionedDeliveryHub) {
      // Access first, as on a single log: a channel the caller may not read
      // is 403 (or 400, 503) whatever the layout. Its verdict is handed on
      // as a grant, so that the authorizer is asked once.
      const scopes = request.scopes ?? [];
      const verdict = await this.permissions.check(
        request.principal!,
        scopes,
        query.channel,
      );
      if (verdict !== 'scope' && verdict !== 'grant') fail(verdict);
      const channel = query.channel as string;
      if (verdict === 'grant') grants = new Set([channel]);
      const reads = historyPartitions(
        hub.layout,
        channel,
        new Set([...scopes, ...grants]),
      );
      if (reads.length > 1)
        throw new HttpException(
          {
            statusCode: HttpStatus.NOT_IMPLEMENTED,
            error: 'not_supported',
            message: `The events of this channel visible to this token may lie in ${reads.length} partitions of the log; a history page reads one. Read it with a token of one "${hub.layout.partitionScope ?? ''}" scope, or live.`,
          },
          HttpStatus.NOT_IMPLEMENTED,
        );
      defaultUntil = PARTITION_HEAD;
    } else {
      if (!hub.started) await hub.start();
      defaultUntil = hub.position;
    }
    const limit =
      query.limit === undefined || query.limit === ''
        ? undefined
        : /^\d{1,7}$/.test(String(query.limit))
          ? Number(query.limit)
          : NaN;
    const page = await this.history.page(
      request.principal!,
      request.scopes ?? [],
      grants,
      {
        channel: query.channel,
        after: emptyAsMissing(query.after),
        until: emptyAsMissing(query.until),
        limit,
      },
      defaultUntil,
    );
    if (!page.ok) fail(page.error);
    // Stored envelope text, as the socket's acknowledgement has it.
    return historyBodyOf(new EncodedHistory(page.events, page.next));
  }
}

/** Answers a `history` error with its HTTP status. */
function fail(error: string): never {
  const status =
    HISTORY_ERROR_STATUS[error as HistoryError] ??
    HttpStatus.SERVICE_UNAVAILABLE;
  throw new HttpException(
    {
      statusCode: status,
      error,
      message: MESSAGES[error] ?? error,
    },
    status,
  );
}

function emptyAsMissing(value: unknown): unknown {
  return value === '' ? undefined : value;
}
