import type { Command as Program } from 'commander';
import { Option } from 'commander';
import { loadPlaneConfig } from '../../config/plane-config.js';
import type { ModelProbe } from '../../model/probe.js';
import { homeOption, jsonOption, parsePositiveInt } from '../options.js';
import { MAX_PROBE_MS } from '../plane-status.js';
import { EXIT_REFUSED, printJson, printLines } from '../output.js';

export function register(program: Program): void {
  program
    .command('models')
    .description("list the plane's model endpoints (config.json `models`) and probe each one's /models")
    .addOption(homeOption())
    .addOption(jsonOption())
    .addOption(
      new Option('--timeout-ms <ms>', 'how long each probe may take')
        .default(3000)
        .argParser(parsePositiveInt('--timeout-ms', MAX_PROBE_MS)),
    )
    .addOption(new Option('--no-probe', 'only list them'))
    .addHelpText(
      'after',
      `
Examples:
  execplane models
  execplane models --json --timeout-ms 1000

Each configured endpoint is asked for GET <base_url>/models within --timeout-ms, with its API key
(from the variable api_key_env names) when it has one; the key is never printed. The built-in
offline model "stub" is always listed. Exit 0 when every endpoint answered, 1 when one did not
(its error code says why: model_unreachable, model_timeout, model_http_4xx, model_key_missing, …),
2 when config.json is invalid. See docs/model-lane.md.`,
    )
    .action(async (opts: { home: string; json?: boolean; timeoutMs: number; probe: boolean }) => {
      // Loaded here, not at the top: every other command starts without them.
      const [{ STUB_MODEL }, { probeModel, probeStub }] = await Promise.all([
        import('../../model/endpoints.js'),
        import('../../model/probe.js'),
      ]);
      const { config, path } = loadPlaneConfig(opts.home);
      const endpoints = config.models ?? [];
      const def = config.default_model ?? STUB_MODEL;
      const probes: ModelProbe[] = opts.probe
        ? [
            probeStub(),
            ...(await Promise.all(endpoints.map((e) => probeModel(e, process.env, opts.timeoutMs)))),
          ]
        : [];
      const rows = [
        { name: STUB_MODEL, endpoint: null, model: 'execplane-stub-1', api_key_env: null },
        ...endpoints.map((e) => ({
          name: e.name,
          endpoint: e.base_url,
          model: e.model,
          api_key_env: e.api_key_env ?? null,
        })),
      ].map((row) => ({
        ...row,
        default: row.name === def,
        ...(opts.probe ? { probe: probes.find((p) => p.name === row.name) ?? null } : {}),
      }));
      const down = probes.filter((p) => !p.ok);
      if (opts.json) {
        printJson({ config: path, default_model: def, models: rows });
      } else {
        const lines = rows.map((r) => {
          const p = r.probe;
          const state = !p
            ? ''
            : p.ok
              ? `  ok ${p.latency_ms} ms${p.model_served === false ? ` (the server does not list ${r.model})` : ''}`
              : `  DOWN ${p.error_code ?? '?'}: ${p.message ?? ''}`;
          return `${r.default ? '*' : ' '} ${r.name}  ${r.endpoint ?? '(offline stub)'}  model ${r.model}${state}`;
        });
        printLines(...lines, `(${path ?? 'no config.json: only the stub'}; * = default_model)`);
      }
      if (down.length) process.exitCode = EXIT_REFUSED;
    });
}
