-- The outbox: announcements (process_message / process_status events) owed to
-- live readers, written in the same transaction as the message or status
-- they announce and deleted once the event bus took them. A node that dies
-- between the write and its publish leaves the row here for any live node to
-- relay. entry names what is announced: 'm:<seq>' or 's:<status>'.
--
-- waiting_since orders the rows and doubles as the lease: a claim moves it
-- into the future, so other relays skip the row until the lease runs out.
CREATE TABLE agent_announcements (
  process_id text NOT NULL REFERENCES agent_processes (process_id) ON DELETE CASCADE,
  entry text NOT NULL,
  previous_status text NULL,
  waiting_since timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (process_id, entry)
);

CREATE INDEX agent_announcements_waiting_since
  ON agent_announcements (waiting_since);
