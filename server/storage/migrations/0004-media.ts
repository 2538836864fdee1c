/**
 * 0004: media repository. File bytes live on disk under DATA_DIR/media, content-addressed by
 * sha256 (identical uploads share one file); these tables hold what the bytes are and who
 * uploaded them. A blob file is removed when no `media` row references its sha256.
 */
export default /* sql */ `
CREATE TABLE media (
  server_name    TEXT NOT NULL,              -- origin server of mxc://server_name/media_id
  media_id       TEXT NOT NULL,              -- [A-Za-z0-9_-]+ (spec: content repository security)
  sha256         TEXT,                       -- hex digest of the bytes; NULL while an async upload is pending
  size           INTEGER,                    -- bytes; NULL while pending
  content_type   TEXT NOT NULL DEFAULT 'application/octet-stream',  -- as declared by the uploader
  sniffed_type   TEXT,                       -- from the bytes: a MIME type, 'text', or NULL (unknown binary)
  upload_name    TEXT,                       -- the filename given at upload, if any
  user_id        TEXT,                       -- local uploader; NULL for remote media and preview images
  created_ts     INTEGER NOT NULL,           -- mxc created (POST /create) or uploaded
  uploaded_ts    INTEGER,                    -- bytes arrived (for remote media: cache populated)
  unused_expires_ts INTEGER,                 -- pending async uploads only: the mxc is dropped after this
  last_access_ts INTEGER,
  is_remote      INTEGER NOT NULL DEFAULT 0,
  -- Spec 1.11/1.12 "freeze": media that arrived while unauthenticated access was enabled stays
  -- reachable on the deprecated /_matrix/media/v3 download endpoints after it is turned off.
  legacy_access  INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (server_name, media_id)
) STRICT;

CREATE INDEX media_by_sha ON media (sha256) WHERE sha256 IS NOT NULL;
CREATE INDEX media_by_user ON media (user_id, size) WHERE user_id IS NOT NULL;
CREATE INDEX media_pending ON media (user_id, unused_expires_ts) WHERE sha256 IS NULL;
CREATE INDEX media_remote_age ON media (is_remote, uploaded_ts);

-- Thumbnails of a blob (keyed by the source's sha256, so deduplicated uploads share them).
CREATE TABLE media_thumbnails (
  sha256        TEXT NOT NULL,               -- source blob
  box_width     INTEGER NOT NULL,            -- the box asked for (a spec default size or the request)
  box_height    INTEGER NOT NULL,
  method        TEXT NOT NULL CHECK (method IN ('crop', 'scale')),
  animated      INTEGER NOT NULL,
  width         INTEGER NOT NULL,            -- actual pixel size of the thumbnail
  height        INTEGER NOT NULL,
  content_type  TEXT NOT NULL,
  size          INTEGER NOT NULL,
  file_name     TEXT NOT NULL,               -- under media/thumbnails/<sha[0:2]>/<sha>/
  created_ts    INTEGER NOT NULL,
  PRIMARY KEY (sha256, box_width, box_height, method, animated)
) STRICT;

-- URL preview cache (preview_url): OpenGraph JSON for a URL, reused until expires_ts.
CREATE TABLE url_previews (
  url          TEXT PRIMARY KEY,
  fetched_ts   INTEGER NOT NULL,
  expires_ts   INTEGER NOT NULL,
  og_json      TEXT NOT NULL
) STRICT;
CREATE INDEX url_previews_expiry ON url_previews (expires_ts);
`;
