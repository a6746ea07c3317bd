-- Change events of every store, in one table so a listener that missed notifications can replay them.
CREATE TABLE bpm_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bpm_events_channel_seq ON bpm_events (channel, seq);
CREATE INDEX bpm_events_created_at ON bpm_events (created_at);

-- Records an event in the caller's transaction and returns its notice: "seq:payload", or just "seq"
-- when that would pass NOTIFY's 8000-byte limit (listeners then read the payload back).
-- It does not NOTIFY: a NOTIFY in the write would hold PostgreSQL's global notify lock across the
-- commit's WAL flush and serialise every writer; the store sends the notice after commit instead.
CREATE FUNCTION bpm_emit(p_channel TEXT, p_payload TEXT) RETURNS TEXT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  s BIGINT;
BEGIN
  INSERT INTO bpm_events (channel, payload) VALUES (p_channel, p_payload) RETURNING seq INTO s;
  RETURN CASE WHEN octet_length(p_payload) <= 7900 THEN s::text || ':' || p_payload ELSE s::text END;
END
$$;
