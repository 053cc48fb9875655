import { InvalidArgumentError, Option, type Command as Program } from 'commander';
import { RefusedError, UsageError } from '../../errors.js';
import { assertPlaneExists } from '../../ledger/paths.js';
import { homeOption } from '../options.js';
import { printLines, warn } from '../output.js';

interface Opts {
  home: string;
  port: number;
  host: string;
  allowActions?: boolean;
}

const DEFAULT_PORT = 7077;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export function register(program: Program): void {
  program
    .command('ui')
    .description('serve a live web view of the plane on 127.0.0.1 (read-only unless --allow-actions)')
    .addOption(homeOption())
    .addOption(
      new Option('--port <n>', 'the port to listen on (0: any free port)')
        .default(DEFAULT_PORT)
        .argParser((v: string) => {
          if (!/^[0-9]{1,5}$/.test(v) || Number(v) > 65535)
            throw new InvalidArgumentError('must be a port number from 0 to 65535');
          return Number(v);
        }),
    )
    .addOption(
      new Option(
        '--host <address>',
        'the address to listen on; anything but loopback exposes the plane',
      ).default('127.0.0.1'),
    )
    .option('--allow-actions', 'offer cancel, retry and the kill switch (each as the CLI runs it)')
    .addHelpText(
      'after',
      `
Examples:
  execplane ui
  execplane ui --port 0 --allow-actions

Prints one line, \`execplane ui: http://127.0.0.1:PORT/ serving HOME (read-only)\`, once it listens,
and serves until SIGINT or SIGTERM (exit 0). Pages read checkpoint.json, jobs.index and the lines
appended since, never the whole ledger; Audit runs \`execplane audit --evidence\` on request.
Requests whose Host is not this server are refused (421); forms carry a token of this process.
Exit 1: the port is taken (E_PORT_IN_USE); 2: usage, or no plane. See docs/ui.md.`,
    )
    .action(async (opts: Opts) => {
      assertPlaneExists(opts.home);
      if (opts.host.trim() === '') throw new UsageError('E_USAGE', '--host must not be empty');
      // Loaded here: the view's modules are no other command's.
      const { startUi } = await import('../../ui/server.js');
      let server: Awaited<ReturnType<typeof startUi>>;
      try {
        server = await startUi({
          home: opts.home,
          host: opts.host,
          port: opts.port,
          allowActions: opts.allowActions === true,
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE')
          throw new RefusedError(
            'E_PORT_IN_USE',
            `${opts.host}:${opts.port} is in use: give another --port (0 picks a free one)`,
          );
        if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
          throw new UsageError('E_USAGE', `--host ${opts.host} is not an address of this machine (${code})`);
        if (code === 'EACCES')
          throw new RefusedError(
            'E_PORT_IN_USE',
            `port ${opts.port} needs privileges: give a port above 1023`,
          );
        throw err;
      }
      if (!LOOPBACK.has(opts.host))
        warn(`listening on ${opts.host}: anyone who can reach it can read this plane`);
      printLines(
        `execplane ui: ${server.url} serving ${opts.home} (${opts.allowActions ? 'actions allowed' : 'read-only'})`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
