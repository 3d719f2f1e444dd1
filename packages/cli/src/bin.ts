#!/usr/bin/env node
/**
 * Entry point of the `mlsd` command. Everything testable lives in program.ts.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  onListening: (_server, close) => {
    let closing = false;
    const stop = (signal: string) => {
      if (closing) return;
      closing = true;
      process.stderr.write(`mlsd: ${signal}, draining and stopping\n`);
      close().then(
        () => process.exit(0),
        (err) => {
          process.stderr.write(`mlsd: error while stopping: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  },
});
// `serve` keeps the process alive through its server; every other command ends here.
if (code !== 0) process.exitCode = code;
