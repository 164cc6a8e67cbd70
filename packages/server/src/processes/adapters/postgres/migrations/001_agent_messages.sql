-- One row per process: its status and the last seq handed out. Appends lock
-- this row to take the next seq, so seqs are gap-free under concurrency.
CREATE TABLE agent_processes (
  process_id text PRIMARY KEY,
  status text NULL CHECK (status IN ('running', 'completed', 'failed', 'cancelled')),
  last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Reads are "seq > after of one process, ascending": a range scan of the primary key.
CREATE TABLE agent_messages (
  process_id text NOT NULL REFERENCES agent_processes (process_id) ON DELETE CASCADE,
  seq bigint NOT NULL CHECK (seq > 0),
  type text NOT NULL,
  turn integer NULL CHECK (turn >= 0),
  agent text NULL,
  model text NULL,
  payload jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (process_id, seq)
);
