-- Voice and video calls: signalling only (the media flows between the browsers). One row per call,
-- from ringing to its end; the transcript lines are ordinary system messages of the conversation.
-- At most one ringing or active call per conversation: the partial unique index refuses a second
-- one even when two requests (on two nodes) start one at the same moment.
CREATE TABLE calls (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    operator_id TEXT NOT NULL REFERENCES operators(id),
    media TEXT NOT NULL,
    caller TEXT NOT NULL,
    state TEXT NOT NULL,
    outcome TEXT,
    ended_by TEXT,
    guest_tab TEXT,
    operator_tab TEXT,
    created_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    ended_at TIMESTAMP
);
CREATE UNIQUE INDEX calls_one_live ON calls (conversation_id) WHERE state <> 'ended';
CREATE INDEX calls_ringing ON calls (state, created_at);
