-- The outbox: every change others should hear of, written in the same
-- transaction as the change. IF NOT EXISTS: gateways before the migration
-- runner made these tables by hand.
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, at BIGINT NOT NULL, topic TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS outbox_cursor (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);
