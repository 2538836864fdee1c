/** 0001: the foundation: local accounts. Later migrations add their own tables; never edit a landed migration. */
export default /* sql */ `
CREATE TABLE users (
  user_id       TEXT PRIMARY KEY,            -- full Matrix ID, @localpart:server_name
  localpart     TEXT NOT NULL UNIQUE,
  password_hash TEXT,                        -- scrypt$N$r$p$salt$hash, NULL = no password login
  is_admin      INTEGER NOT NULL DEFAULT 0,
  deactivated   INTEGER NOT NULL DEFAULT 0,
  displayname   TEXT,
  avatar_url    TEXT,
  created_ts    INTEGER NOT NULL
) STRICT;

-- Small server-wide facts that must survive restarts and restores, e.g. the server name the
-- database belongs to (a server name is permanent: user IDs and signatures embed it).
CREATE TABLE server_meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
`;
