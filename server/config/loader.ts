/**
 * Loads the configuration: defaults < config file < HEARTH_* environment < flags, validating
 * every value with a message that names the key and where it came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { DEFAULTS, OPTIONS, envName, type Config, type OptionSpec } from './schema.ts';

export class ConfigError extends Error {}

export interface LoadOptions {
  /** Values from command-line flags (already typed by the CLI parser). */
  flags?: Partial<Config>;
  /** Explicit config file (`--config`). */
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file the config was read from, if any. */
  file: string | null;
}

const BY_KEY = new Map(OPTIONS.map((o) => [o.key as string, o]));

export function parseListen(v: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s]+):(\d{1,5})$/.exec(v);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function checkValue(o: OptionSpec, value: unknown, where: string): unknown {
  const bad = (msg: string): never => {
    throw new ConfigError(`${where}: ${o.key}: ${msg}`);
  };
  if (value === null && (DEFAULTS[o.key] === null)) return null;
  switch (o.type) {
    case 'string':
      if (typeof value !== 'string' || value === '') bad(`expected a non-empty string, got ${JSON.stringify(value)}`);
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) bad(`expected an integer, got ${JSON.stringify(value)}`);
      break;
    case 'boolean':
      if (typeof value !== 'boolean') bad(`expected true or false, got ${JSON.stringify(value)}`);
      break;
    case 'enum':
      if (typeof value !== 'string' || !o.values!.includes(value)) bad(`expected one of ${o.values!.join(', ')}, got ${JSON.stringify(value)}`);
      break;
    case 'string-list':
    case 'listen-list':
      if (!Array.isArray(value) || value.some((x) => typeof x !== 'string')) bad(`expected a list of strings, got ${JSON.stringify(value)}`);
      if (o.type === 'listen-list') {
        (value as string[]).forEach((x, i) => {
          if (!parseListen(x)) bad(`[${i}]: expected HOST:PORT such as 127.0.0.1:8008, got '${x}'`);
        });
      }
      break;
  }
  const msg = o.check?.(value as never);
  if (msg) bad(msg);
  return value;
}

function fromEnvString(o: OptionSpec, raw: string, where: string): unknown {
  switch (o.type) {
    case 'integer': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${where}: expected an integer, got '${raw}'`);
      return Number(raw.trim());
    }
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new ConfigError(`${where}: expected true or false, got '${raw}'`);
    }
    case 'string-list':
    case 'listen-list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  let parsed: unknown;
  try {
    if (path.endsWith('.json')) parsed = JSON.parse(text);
    else {
      // yaml is only loaded when a YAML file exists: it is not needed on most starts.
      // yaml is CommonJS: bundled, its namespace may only have `default`.
      const mod = (await import('yaml')) as { parse?: (t: string) => unknown; default?: { parse: (t: string) => unknown } };
      const parse = mod.parse ?? mod.default!.parse;
      parsed = parse(text) ?? {};
    }
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(e as Error).message.split('\n')[0]}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path}: expected a mapping of option names to values`);
  }
  return parsed as Record<string, unknown>;
}

/** The config file the data dir holds, if any (config.yaml, config.yml or config.json). */
export function findConfigFile(dataDir: string): string | null {
  for (const name of ['config.yaml', 'config.yml', 'config.json']) {
    const p = join(dataDir, name);
    if (existsSync(p)) return p;
  }
  return null;
}

export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const flags = opts.flags ?? {};
  const merged: Record<string, unknown> = { ...DEFAULTS };

  const dataDir = flags.data_dir ?? env[envName('data_dir')] ?? DEFAULTS.data_dir;
  const configArg = opts.configFile ?? env.HEARTH_CONFIG;
  const file = configArg ? resolve(cwd, configArg) : findConfigFile(resolve(cwd, dataDir));
  if (configArg && !existsSync(file!)) throw new ConfigError(`config file ${file} does not exist`);

  if (file) {
    const values = await readConfigFile(file);
    for (const [key, value] of Object.entries(values)) {
      const o = BY_KEY.get(key);
      if (!o) throw new ConfigError(`${file}: unknown option '${key}' (see \`hearth config\` for the list)`);
      if (key === 'data_dir') throw new ConfigError(`${file}: data_dir cannot be set inside the data directory's own config; use --data-dir or HEARTH_DATA_DIR`);
      merged[key] = checkValue(o, value, file);
    }
  }
  for (const o of OPTIONS) {
    const raw = env[envName(o.key)];
    if (raw === undefined) continue;
    const where = `environment ${envName(o.key)}`;
    merged[o.key] = checkValue(o, fromEnvString(o, raw, where), where);
  }
  for (const [key, value] of Object.entries(flags)) {
    if (value === undefined) continue;
    const o = BY_KEY.get(key);
    if (!o) throw new ConfigError(`unknown option '${key}'`);
    merged[key] = checkValue(o, value, `flag ${o.flag ?? key}`);
  }
  const config = merged as unknown as Config;
  config.data_dir = isAbsolute(config.data_dir) ? config.data_dir : resolve(cwd, config.data_dir);
  for (const k of ['tls_cert', 'tls_key', 'federation_ca', 'acme_ca_file', 'ui_dir'] as const) {
    const v = config[k];
    if (v && !isAbsolute(v)) config[k] = resolve(cwd, v);
  }
  if ((config.tls_cert === null) !== (config.tls_key === null)) {
    throw new ConfigError(`tls_cert and tls_key must be given together`);
  }
  return { config, file };
}
