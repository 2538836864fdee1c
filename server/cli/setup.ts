/**
 * `hearth setup …`: every wizard step from the command line, for scripted installs. Runs the
 * same code as the web wizard against the data directory (works while the server runs; the
 * shell access itself is the proof of ownership, so no setup token is asked for).
 */
import { parse, UsageError } from './args.ts';
import { loadConfig } from '../config/loader.ts';
import { openDatabaseForCli } from './open-db.ts';
import { buildServices, type Services } from '../services/container.ts';
import { createLogger } from '../logging.ts';
import { setupTokenPath } from '../appliance/setup/setup-token.ts';
import * as wizard from '../appliance/setup/wizard.ts';
import { existsSync, readFileSync } from 'node:fs';

export const usage = `Usage: hearth setup COMMAND [options]

Commands (the wizard's steps):
  status                         where setup stands
  token                          print the setup token for the web wizard
  admin LOCALPART --password P   choose the admin account (created with the server name)
  names --server-name NAME [--host HOST[:PORT]]
                                 the permanent server name and the host Hearth answers on; checks DNS
  delegation                     check /.well-known/matrix/* on the server name's web server
  selftest                       the federation self-test against our own name
  finish                         close the wizard (the dashboard takes over)

For the certificate step use \`hearth cert obtain\`.

Options:
  --data-dir DIR    data directory (default ./data)
  --config FILE     config file
  -h, --help        show this help`;

const OPTIONS = {
  password: { type: 'string' },
  'server-name': { type: 'string' },
  host: { type: 'string' },
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function print(s: wizard.WizardState): void {
  console.log(`step:        ${s.step}${s.completed ? ' (setup finished)' : ''}`);
  console.log(`admin:       ${s.admin.userId ?? (s.admin.localpart ? `${s.admin.localpart} (created once the server name is set)` : '-')}`);
  console.log(`server name: ${s.names.serverName ?? '-'}`);
  console.log(`host:        ${s.names.publicHost ?? '-'}`);
  console.log(`certificate: ${s.certificate.managed ? `${s.certificate.managed.names.join(', ')} until ${new Date(s.certificate.managed.notAfter).toISOString()}` : s.certificate.operatorCert ? 'operator files' : 'none'}`);
  for (const st of s.steps) console.log(`  ${st.done ? '✓' : ' '} ${st.id}${st.blocked ? ` — ${st.blocked}` : ''}`);
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, OPTIONS, 'setup', true);
  if (values.help || positionals.length === 0) {
    console.log(usage);
    return values.help ? 0 : 2;
  }
  const [cmd, arg] = positionals;
  const { config } = await loadConfig({ flags: { data_dir: values['data-dir'] }, configFile: values.config }).catch((e) => {
    throw new UsageError((e as Error).message);
  });
  if (cmd === 'token') {
    const p = setupTokenPath(config.data_dir);
    if (!existsSync(p)) throw new Error('there is no setup token: setup is finished, or Hearth has not started yet');
    console.log(readFileSync(p, 'utf8').trim());
    return 0;
  }
  const db = await openDatabaseForCli(config.data_dir);
  let s: Services | undefined;
  try {
    s = await buildServices({ config, log: createLogger('warn'), db });
    const stored = await s.meta.get('server_name');
    if (!config.server_name && stored) config.server_name = stored;
    const fail = (e: unknown): never => {
      throw new Error((e as Error).message);
    };
    switch (cmd) {
      case 'status':
        print(await wizard.wizardState(s));
        return 0;
      case 'admin': {
        if (!arg) throw new UsageError('setup admin: missing LOCALPART');
        const password = values.password ?? process.env.HEARTH_NEW_USER_PASSWORD;
        if (!password) throw new UsageError('setup admin: --password is required');
        const row = await s.appliance.setup();
        if (!row.mode) await wizard.chooseMode(s, 'new');
        print(await wizard.setAdmin(s, arg, password).catch(fail));
        return 0;
      }
      case 'names': {
        const name = values['server-name'];
        if (!name) throw new UsageError('setup names: --server-name is required');
        const host = values.host ?? name;
        const check = await wizard.checkNames(s, name, host).catch(fail);
        for (const m of check.messages) console.log(`${m.level === 'ok' ? 'ok  ' : m.level === 'warn' ? 'warn' : 'FAIL'} ${m.text}`);
        print(await wizard.saveNames(s, name, host).catch(fail));
        return 0;
      }
      case 'delegation': {
        const r = await wizard.delegationCheck(s).catch(fail);
        for (const c of r.checks) for (const m of c.messages) console.log(`${m.level === 'ok' ? 'ok  ' : m.level === 'warn' ? 'warn' : 'FAIL'} ${m.text}`);
        return r.ok ? 0 : 1;
      }
      case 'selftest': {
        const r = await wizard.selfTest(s).catch(fail);
        for (const st of r.steps) console.log(`${st.ok ? 'ok  ' : st.info ? 'info' : 'FAIL'} ${st.title}: ${st.detail}${st.fix ? `\n     fix: ${st.fix}` : ''}`);
        return r.ok ? 0 : 1;
      }
      case 'finish': {
        const r = await wizard.finish(s).catch(fail);
        console.log(`Setup finished. Admin: ${r.adminUserId}. Dashboard: ${r.baseUrl ?? '(no public address)'}/dashboard`);
        return 0;
      }
      default:
        throw new UsageError(`setup: unknown command '${cmd}' (see hearth setup --help)`);
    }
  } finally {
    await db.close();
  }
}
