import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

/**
 * Development helpers (tokens with any scope, demo traffic) answer only
 * requests from this machine, even when the app listens on every interface.
 */
@Injectable()
export class LoopbackOnlyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context
      .switchToHttp()
      .getRequest<{ socket?: { remoteAddress?: string } }>();
    if (!LOOPBACK.test(request.socket?.remoteAddress ?? '')) {
      throw new ForbiddenException(
        'Development routes answer only requests from this machine (loopback).',
      );
    }
    return true;
  }
}
