/**
 * Checking inbound X-Matrix signatures (server-server-api "Request Authentication"). A request
 * is accepted when the header parses, names us as destination (or omits it, for older servers),
 * and is signed by one of the origin's *current* keys (old_verify_keys "are only valid for
 * signing events") that is valid now. Anything else is 401 M_UNAUTHORIZED.
 */
import { MatrixError } from '../../http/errors.ts';
import { parseServerName } from './discovery.ts';
import type { KeyRing } from './keys.ts';
import { parseXMatrix, verifyRequestSignature } from './x-matrix.ts';

export const unauthorized = (msg: string) => new MatrixError(401, 'M_UNAUTHORIZED', msg);

export interface VerifierDeps {
  serverName: () => string;
  keys: KeyRing;
  now: () => number;
}

export class XMatrixVerifier {
  constructor(private readonly d: VerifierDeps) {}

  /** Returns the authenticated origin server name, or throws 401 M_UNAUTHORIZED. */
  async verify(method: string, uri: string, header: string | undefined, content: unknown): Promise<string> {
    if (!header) throw unauthorized('Missing X-Matrix Authorization header');
    const p = parseXMatrix(header);
    if (!p) throw unauthorized('Malformed X-Matrix Authorization header');
    const me = this.d.serverName();
    if (p.destination !== undefined && p.destination !== me) {
      throw unauthorized(`This request is for ${p.destination}, not ${me}`);
    }
    if (!parseServerName(p.origin)) throw unauthorized('origin is not a server name');
    if (p.origin === me) throw unauthorized('Requests from ourselves are not accepted over federation');
    const key = await this.d.keys.verifyKey(p.origin, p.key, this.d.now());
    if (!key) throw unauthorized(`Could not find key ${p.key} of ${p.origin}`);
    if (key.expiredTs !== undefined) throw unauthorized(`Key ${p.key} of ${p.origin} has expired`);
    if ((key.validUntilTs ?? 0) < this.d.now()) throw unauthorized(`Key ${p.key} of ${p.origin} is no longer valid`);
    if (!verifyRequestSignature(p, method, uri, me, content, key.key)) {
      // Old servers sign without a destination; the signature then covers no destination field.
      throw unauthorized('Invalid X-Matrix signature');
    }
    return p.origin;
  }
}
