/**
 * The service's configuration, read and validated once at the edge (CONVENTIONS 6): the CLI hands
 * over the environment, nothing else in the app reads `process.env`.
 */
import { z } from 'zod';

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .optional()
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

export const BlurConfig = z.object({
  /** BullMQ on this Redis for the two stages (and retraining); in-process without it. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'expected a redis:// URL')
    .optional(),
  /** API key for the state-changing admin routes (retraining); without one they answer 403. */
  MLSD_API_KEY: z.string().min(8, 'expected at least 8 characters').optional(),
  /** Keep originals after processing (reports on them then become hard examples). Default false. */
  SVB_RETAIN_ORIGINALS: flag,
  /** Folder of the image store (default `<workDir>/street-view-blurring/store`). */
  SVB_STORE_DIR: z.string().min(1).optional(),
});

export type BlurConfig = z.output<typeof BlurConfig>;

/** Parses the configuration; throws a RangeError naming every bad setting. */
export function parseBlurConfig(env: Record<string, string | undefined>): BlurConfig {
  const r = BlurConfig.safeParse(env);
  if (!r.success) {
    throw new RangeError(
      `configuration: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}
