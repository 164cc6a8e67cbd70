import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';
import type { Request } from 'express';
import {
  isLoopbackAddress,
  isLoopbackHostHeader,
} from '../config/dev-tools.policy';

const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip'];

/**
 * Guards the development tools (tokens with any scope, demo traffic), which
 * the app registers only while they are on. A request passes only when
 * - its `Host` names this machine (localhost, 127.x.x.x, [::1]): a web page
 *   that rebinds its own DNS name to 127.0.0.1 still sends its own name;
 * - its `Origin`, if any, is such a name too: other sites' pages are refused;
 * - its client address, as Express computes it under the app's explicit
 *   `TRUST_PROXY` setting, is loopback. A request that carries forwarding
 *   headers Express does not read (no `TRUST_PROXY`, or only `Forwarded` /
 *   `X-Real-IP`) came through a proxy whose client is unknown, so it is
 *   refused rather than taken for the proxy's own loopback address.
 */
@Injectable()
export class LocalRequestGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const refusal = refusalOf(request);
    if (refusal) throw new ForbiddenException(refusal);
    return true;
  }
}

function refusalOf(request: Request): string | null {
  if (!isLoopbackHostHeader(request.headers.host))
    return `Development routes answer only requests addressed to localhost, 127.0.0.1 or [::1] (Host was ${JSON.stringify(request.headers.host ?? '')}).`;
  const origin = request.headers.origin;
  if (origin !== undefined && !isLoopbackOrigin(origin))
    return `Development routes answer only pages served from this machine (Origin was ${JSON.stringify(origin)}).`;
  // Express reads the client address from X-Forwarded-For only, and only
  // under TRUST_PROXY; any other forwarded request hides its client.
  const trustsProxy = Boolean(request.app?.get('trust proxy'));
  const forwarded = FORWARDING_HEADERS.some(
    (name) => request.headers[name] !== undefined,
  );
  if (
    forwarded &&
    (!trustsProxy || request.headers['x-forwarded-for'] === undefined)
  )
    return 'Development routes do not answer requests forwarded by a proxy unless TRUST_PROXY names it and it sends X-Forwarded-For.';
  if (!isLoopbackAddress(request.ip))
    return 'Development routes answer only requests from this machine (loopback).';
  return null;
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    return isLoopbackHostHeader(new URL(origin).host);
  } catch {
    return false;
  }
}
