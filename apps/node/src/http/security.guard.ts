import { ForbiddenException, Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { equalBytes } from '@pursuance/crypto';
import type { Request } from 'express';
import { NodeStartingError } from '../domain/errors.js';
import { HttpBinding } from './binding.js';
import { SERVED_WHILE_STARTING } from './starting.js';

/**
 * Every /api request must: name this node's own loopback address as Host (a DNS name that
 * resolves to 127.0.0.1 is refused, which defeats DNS rebinding); carry no Origin or this
 * node's own origin (no cross-site requests, even "simple" ones); and present the per-node
 * token, as a bearer token or, for EventSource which cannot set headers, a `token` query
 * parameter. Static dashboard files are public: the dashboard asks its user for the token.
 */
@Injectable()
export class SecurityGuard implements CanActivate {
  public constructor(
    @Inject(HttpBinding) private readonly binding: HttpBinding,
    @Inject(Reflector) private readonly reflector: Reflector,
  ) {}

  public canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const host = req.headers.host ?? '';
    if (!this.binding.allowedHosts().includes(host)) throw new ForbiddenException({ code: 'BAD_HOST', message: 'unexpected Host header' });
    const origin = req.headers.origin;
    if (origin !== undefined && !this.binding.allowedOrigins().includes(origin)) {
      throw new ForbiddenException({ code: 'BAD_ORIGIN', message: 'cross-origin requests are refused' });
    }
    const header = req.headers.authorization;
    const fromHeader = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : undefined;
    const fromQuery = req.method === 'GET' && typeof req.query.token === 'string' ? req.query.token : undefined;
    const presented = fromHeader ?? fromQuery;
    if (presented === undefined || !sameToken(presented, this.binding.token)) {
      throw new UnauthorizedException({ code: 'BAD_TOKEN', message: 'missing or wrong node token' });
    }
    // Checked after the token: a stranger learns nothing, not even that the node is starting.
    if (this.binding.starting && this.reflector.get<boolean>(SERVED_WHILE_STARTING, context.getHandler()) !== true) throw new NodeStartingError();
    return true;
  }
}

function sameToken(a: string, b: string): boolean {
  return equalBytes(Buffer.from(a), Buffer.from(b));
}
