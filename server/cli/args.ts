/** Flag parsing shared by commands: node:util parseArgs with errors turned into usage errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {
  // cli.ts recognises it by name as well (the bundled commands have their own copy of the class).
  override name = 'UsageError';
}

/** --data-dir, --config and --help: the flags of every command that works on a data directory. */
export const DATA_DIR_OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The usage lines of DATA_DIR_OPTIONS, their descriptions at `column` like the option lines above them. */
export function dataDirUsage(column = 20): string {
  const line = (flag: string, text: string) => `  ${flag.padEnd(column - 2)}${text}`;
  return [
    line('--data-dir DIR', 'data directory (default ./data)'),
    line('--config FILE', 'config file (default DATA_DIR/config.yaml or config.json)'),
    line('-h, --help', 'show this help'),
  ].join('\n');
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  command: string,
  positionals = false,
) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: positionals, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/, '').replace(/^Unknown option/, 'unknown option');
    throw new UsageError(`${command}: ${msg} (see hearth ${command} --help)`);
  }
}
