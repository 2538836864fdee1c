/** `hearth config`: prints every configuration option (the same table as server/config/OPTIONS.md). */
import { renderOptionsDoc } from '../config/schema.ts';

export const usage = `Usage: hearth config

Prints every configuration option: its key in config.yaml, its HEARTH_* environment variable,
its flag, its default and what it does.`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage);
    return 0;
  }
  process.stdout.write(renderOptionsDoc());
  return 0;
}
