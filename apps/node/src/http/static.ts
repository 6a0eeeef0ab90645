import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';

/** The built dashboard (apps/dashboard/dist), relative to this file in src/ and in dist/ alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../../dashboard/dist', import.meta.url));

/**
 * The dashboard is same-origin with the API and needs nothing else: no inline scripts or
 * styles, no third-party hosts, no framing (clickjacking).
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/');
}

/**
 * Serve the built dashboard at / as plain Express middleware, registered before Nest's
 * routes: static files first, then index.html for any other GET that is not under /api or
 * /assets (the dashboard's own routes, e.g. /p/<id>/board). /api is never answered here, so every API
 * route still goes through SecurityGuard. The files are public: the dashboard asks its user
 * for the token. Returns false (serving nothing) when `dir` holds no build.
 */
export function serveDashboard(app: INestApplication, dir: string | null): boolean {
  if (!dir || !existsSync(join(dir, 'index.html'))) return false;
  const index = join(dir, 'index.html');
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!isApiPath(req.path)) {
      res.setHeader('Content-Security-Policy', CSP);
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Frame-Options', 'DENY');
    }
    next();
  });
  (app as NestExpressApplication).useStaticAssets(dir, {
    index: false,
    dotfiles: 'ignore',
    // Vite names built assets by content hash: they never change under one name.
    setHeaders: (res: Response, path: string) => {
      res.setHeader('Cache-Control', path.startsWith(join(dir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || isApiPath(req.path)) {
      next();
      return;
    }
    // A built file that is not there (a tab still running an older build asking for a view it
    // has not loaded yet) is a 404, not the page: the dashboard reloads itself on that error.
    if (req.path.startsWith('/assets/')) {
      res.status(404).setHeader('Cache-Control', 'no-cache').type('text/plain').send('not found');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index, (err?: Error) => {
      if (err) next(err);
    });
  });
  return true;
}
