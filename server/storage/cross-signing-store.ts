/**
 * Cross-signing keys (e2e_cross_signing_keys) and the signatures uploaded for keys and devices
 * (e2e_cross_signing_signatures).
 *
 * Which signatures a requester may see (end_to_end_encryption.md "Cross-signing", "To avoid
 * leaking of social graphs"): the requester's own signatures (made with their master,
 * self-signing or user-signing key, or their devices), and signatures a user made over their
 * own keys and devices. Signatures by a third party's user-signing key stay hidden. Both rules
 * reduce to: signer = requester, or signer = owner of the signed key.
 */
import type { Database, WriteTx } from './db.ts';

export type CrossSigningKeyType = 'master' | 'self_signing' | 'user_signing';

export interface CrossSigningKeyRow {
  user_id: string;
  key_type: CrossSigningKeyType;
  public_key: string;
  key_json: string;
}

export interface SignatureRow {
  signer_user_id: string;
  signer_key_id: string;
  target_user_id: string;
  target_key_id: string;
  signature: string;
}

const CHUNK = 500;

export class CrossSigningStore {
  constructor(private readonly db: Database) {}

  async keysOf(userId: string, tx?: WriteTx): Promise<Map<CrossSigningKeyType, CrossSigningKeyRow>> {
    const sql = 'SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys WHERE user_id = ?';
    const rows = tx ? await tx.all<CrossSigningKeyRow>(sql, [userId]) : await this.db.all<CrossSigningKeyRow>(sql, [userId]);
    return new Map(rows.map((r) => [r.key_type, r]));
  }

  /** Cross-signing keys of several users (the given types only). */
  async keysOfUsers(userIds: string[], types: CrossSigningKeyType[]): Promise<CrossSigningKeyRow[]> {
    const out: CrossSigningKeyRow[] = [];
    for (let i = 0; i < userIds.length; i += CHUNK) {
      const part = userIds.slice(i, i + CHUNK);
      out.push(
        ...(await this.db.all<CrossSigningKeyRow>(
          `SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys
           WHERE user_id IN (${part.map(() => '?').join(',')}) AND key_type IN (${types.map(() => '?').join(',')})`,
          [...part, ...types],
        )),
      );
    }
    return out;
  }

  async put(tx: WriteTx, userId: string, type: CrossSigningKeyType, publicKey: string, keyJson: string, now: number): Promise<void> {
    await tx.run(
      `INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json, added_ts) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json,
         added_ts = excluded.added_ts`,
      [userId, type, publicKey, keyJson, now],
    );
  }

  async addSignatures(tx: WriteTx, rows: SignatureRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += 100) {
      const part = rows.slice(i, i + 100);
      const params: string[] = [];
      for (const r of part) params.push(r.signer_user_id, r.signer_key_id, r.target_user_id, r.target_key_id, r.signature);
      await tx.run(
        `INSERT INTO e2e_cross_signing_signatures (signer_user_id, signer_key_id, target_user_id, target_key_id, signature)
         VALUES ${part.map(() => '(?, ?, ?, ?, ?)').join(',')}
         ON CONFLICT DO UPDATE SET signature = excluded.signature`,
        params,
      );
    }
  }

  /**
   * Signatures over keys of `targetUsers` that `requester` may see (see the file comment).
   */
  async visibleSignatures(requester: string, targetUsers: string[]): Promise<SignatureRow[]> {
    const out: SignatureRow[] = [];
    for (let i = 0; i < targetUsers.length; i += CHUNK) {
      const part = targetUsers.slice(i, i + CHUNK);
      out.push(
        ...(await this.db.all<SignatureRow>(
          `SELECT signer_user_id, signer_key_id, target_user_id, target_key_id, signature
           FROM e2e_cross_signing_signatures
           WHERE target_user_id IN (${part.map(() => '?').join(',')})
             AND (signer_user_id = ? OR signer_user_id = target_user_id)`,
          [...part, requester],
        )),
      );
    }
    return out;
  }

  /** Account deactivation: the user's cross-signing keys and every signature by or over them go. */
  async deleteAllForUser(tx: WriteTx, userId: string): Promise<void> {
    await tx.run('DELETE FROM e2e_cross_signing_keys WHERE user_id = ?', [userId]);
    await tx.run('DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ? OR signer_user_id = ?', [userId, userId]);
  }

  /** Drops signatures over deleted devices (or devices whose keys were replaced). */
  async deleteForTargets(tx: WriteTx, userId: string, targetKeyIds: string[]): Promise<void> {
    for (let i = 0; i < targetKeyIds.length; i += CHUNK) {
      const part = targetKeyIds.slice(i, i + CHUNK);
      await tx.run(
        `DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ? AND target_key_id IN (${part.map(() => '?').join(',')})`,
        [userId, ...part],
      );
    }
  }
}
