/**
 * startS3rver(): a real S3-compatible server (s3rver) over TLS in a child process, for backup
 * tests. TLS because restic's chunked request signing is only reliable against s3rver over HTTPS
 * (see ../shared/STACK-NOTES.md). The certificate comes from a throwaway CA made with openssl;
 * `caFile` is what restic gets as --cacert. Objects live as plain files under `dir`, so a test
 * can read every byte that was uploaded.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { tempDir } from './server.ts';

export interface S3Server {
  /** https://127.0.0.1:PORT */
  endpoint: string;
  port: number;
  /** CA certificate (PEM) that signed the server's certificate. */
  caFile: string;
  /** Where s3rver keeps buckets and objects. */
  dir: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** restic repository string for `bucket/prefix`. */
  repo(bucket: string, prefix?: string): string;
  /** Total bytes of stored objects in a bucket (what was uploaded and kept). */
  bucketBytes(bucket: string): number;
  /** Bytes of objects written to a bucket after `sinceMs` (uploads, whatever was deleted since). */
  bytesWrittenSince(bucket: string, sinceMs: number): number;
  /** Paths of stored files (objects and metadata) under `dir` containing `needle`. */
  filesContaining(needle: Buffer): string[];
  /** Number of stored files. */
  fileCount(): number;
  stop(): Promise<void>;
}

function makeCert(dir: string): { key: string; cert: string; ca: string } {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=hearth-test-ca']);
  run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', '2', '-extfile', 'ext']);
  return { key: join(dir, 'leaf.key'), cert: join(dir, 'leaf.crt'), ca: join(dir, 'ca.crt') };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const CHILD = `
const S3rver = require(process.env.S3RVER_MODULE);
const fs = require('fs');
const server = new S3rver({
  address: '127.0.0.1', port: 0, silent: true, directory: process.env.S3_DIR, vhostBuckets: false,
  key: fs.readFileSync(process.env.S3_KEY), cert: fs.readFileSync(process.env.S3_CERT),
  configureBuckets: JSON.parse(process.env.S3_BUCKETS).map((name) => ({ name })),
});
server.run().then((addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + '\\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

export async function startS3rver(opts: { buckets?: string[] } = {}): Promise<S3Server> {
  const root = tempDir('hearth-s3-');
  const dir = join(root, 'data');
  mkdirSync(dir);
  const tls = makeCert(root);
  const require = createRequire(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ['-e', CHILD], {
    env: {
      ...process.env,
      S3RVER_MODULE: require.resolve('s3rver'),
      S3_DIR: dir,
      S3_KEY: tls.key,
      S3_CERT: tls.cert,
      S3_BUCKETS: JSON.stringify(opts.buckets ?? ['hearth-backups']),
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve((JSON.parse(buf.slice(0, nl)) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const endpoint = `https://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    caFile: tls.ca,
    dir,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    repo: (bucket, prefix) => `s3:${endpoint}/${bucket}${prefix ? `/${prefix}` : ''}`,
    bucketBytes: (bucket) =>
      walk(join(dir, bucket))
        .filter((p) => p.endsWith('._S3rver_object'))
        .reduce((a, p) => a + statSync(p).size, 0),
    bytesWrittenSince: (bucket, sinceMs) =>
      walk(join(dir, bucket))
        .filter((p) => p.endsWith('._S3rver_object'))
        .map((p) => statSync(p))
        .filter((st) => st.mtimeMs > sinceMs)
        .reduce((a, st) => a + st.size, 0),
    filesContaining: (needle) => walk(dir).filter((p) => readFileSync(p).includes(needle)),
    fileCount: () => walk(dir).length,
    stop: async () => {
      await new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(root, { recursive: true, force: true });
    },
  };
}
