-- Fixed rate-limit windows shared by gateway replicas: one row per limiter and key.
-- `xid` is the writing transaction: a replica re-reads rows written by transactions that were
-- not yet visible at its last read (pg_snapshot_xmin), so no write is missed whatever the
-- commit order.
CREATE TABLE IF NOT EXISTS bpm_rate_limit_windows (
  name          text    NOT NULL,
  key           text    NOT NULL,
  window_start  bigint  NOT NULL,  -- epoch ms
  count         integer NOT NULL,
  xid           xid8    NOT NULL DEFAULT pg_current_xact_id(),
  PRIMARY KEY (name, key)
);
CREATE INDEX IF NOT EXISTS bpm_rate_limit_windows_xid ON bpm_rate_limit_windows (name, xid);
