-- Change events of every store, in one table so a listener that lost its connection can replay what it missed.
CREATE TABLE bpm_events (
  seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  channel TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX bpm_events_channel_seq ON bpm_events (channel, seq);
CREATE INDEX bpm_events_created_at ON bpm_events (created_at);

-- Records an event and NOTIFYs `channel` with "seq:payload", or just "seq" when that would pass
-- NOTIFY's 8000-byte limit (listeners then read the payload back). Delivered only on commit.
CREATE FUNCTION bpm_emit(p_channel TEXT, p_payload TEXT) RETURNS BIGINT
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  s BIGINT;
BEGIN
  INSERT INTO bpm_events (channel, payload) VALUES (p_channel, p_payload) RETURNING seq INTO s;
  PERFORM pg_notify(p_channel, CASE WHEN octet_length(p_payload) <= 7900 THEN s::text || ':' || p_payload ELSE s::text END);
  RETURN s;
END
$$;
