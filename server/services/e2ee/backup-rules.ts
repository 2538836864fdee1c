/**
 * Which backed-up room key wins (end_to_end_encryption.md "Server-side key backups"):
 * "if the keys have different values for is_verified, then it will keep the key that has
 * is_verified set to true; if they have the same values for is_verified, then it will keep the
 * key with a lower first_message_index; and finally, if is_verified and first_message_index are
 * equal, then it will keep the key with a lower forwarded_count."
 * A key equal on all three keeps the stored one (nothing changes, the etag stays).
 */

export interface BackupKeyMeta {
  is_verified: boolean;
  first_message_index: number;
  forwarded_count: number;
}

/** True if `incoming` should replace `stored` (or there is no stored key). */
export function shouldReplaceBackupKey(stored: BackupKeyMeta | undefined, incoming: BackupKeyMeta): boolean {
  if (!stored) return true;
  if (stored.is_verified !== incoming.is_verified) return incoming.is_verified;
  if (stored.first_message_index !== incoming.first_message_index) {
    return incoming.first_message_index < stored.first_message_index;
  }
  return incoming.forwarded_count < stored.forwarded_count;
}
