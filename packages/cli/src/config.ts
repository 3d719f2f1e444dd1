/**
 * The CLI's configuration, read from the environment once, at the edge, and validated
 * (CONVENTIONS 6). Nothing else in the CLI reads process.env.
 */
import { z } from 'zod';

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Where generated data, trained models and reports go (default `.mlsd` in the working directory). */
  MLSD_HOME: z.string().min(1).optional(),
  /** Root of the committed fixtures; found next to the installed packages when unset. */
  MLSD_FIXTURES: z.string().min(1).optional(),
  MLSD_SEED: z.coerce.number().int().default(42),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  MLSD_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
});

export type CliConfig = z.infer<typeof schema>;

/** Validates the environment; throws one readable error listing every bad variable. */
export function readConfig(env: Record<string, string | undefined>): CliConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid environment: ${problems}`);
  }
  return parsed.data;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
