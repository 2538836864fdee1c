/**
 * Localparts Hearth lets users register. Spec: appendices.md "User Identifiers": new user IDs
 * use only a-z, 0-9, `.`, `_`, `=`, `-` and `/`, and the whole ID is at most 255 bytes.
 */
export function isValidLocalpart(localpart: string): boolean {
  return /^[a-z0-9._=\-/]+$/.test(localpart) && localpart.length <= 200;
}
