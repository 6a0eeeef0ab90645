import { z } from 'zod';

/** The network keys a JSON config file may hold (values are checked again by planAcn). */
export const AcnConfigFileSchema = z.strictObject({
  tor: z.boolean().optional(),
  torPreset: z.enum(['system', 'tor-browser']).optional(),
  torControl: z.string().min(1).optional(),
  torSocks: z.string().min(1).optional(),
  torCookie: z.string().min(1).optional(),
  torControlPassword: z.string().min(1).optional(),
  torDataDir: z.string().min(1).optional(),
  torBinary: z.string().min(1).optional(),
  torrcLines: z.array(z.string().min(1)).max(256).optional(),
  torrcFile: z.string().min(1).optional(),
  bridges: z.array(z.string().min(1)).max(64).optional(),
  transportPlugin: z.string().min(1).optional(),
  loopbackRegistry: z.string().min(1).optional(),
});
