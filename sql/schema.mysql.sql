-- Generated from riskd/store/schema.py by `python -m riskd.store.ddl > sql/schema.mysql.sql`.
-- Do not edit by hand. Schema version 7.

CREATE TABLE alert_groups (
	group_key VARCHAR(16) NOT NULL,
	body TEXT NOT NULL,
	due_ms BIGINT NOT NULL,
	CONSTRAINT pk_alert_groups PRIMARY KEY (group_key)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE alert_once (
	fingerprint VARCHAR(16) NOT NULL,
	name VARCHAR(64) NOT NULL,
	labels TEXT NOT NULL,
	told_ms BIGINT NOT NULL,
	CONSTRAINT pk_alert_once PRIMARY KEY (fingerprint)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_alert_once_name_told_ms ON alert_once (name, told_ms);

CREATE TABLE alert_outbox (
	id BIGINT NOT NULL AUTO_INCREMENT,
	receiver VARCHAR(32) NOT NULL,
	created_ms BIGINT NOT NULL,
	notification TEXT NOT NULL,
	status VARCHAR(8) NOT NULL,
	batch_uuid VARCHAR(64),
	attempts INTEGER NOT NULL,
	next_attempt_ms BIGINT NOT NULL,
	sent_ms BIGINT,
	last_error VARCHAR(512) NOT NULL,
	CONSTRAINT pk_alert_outbox PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_alert_outbox_receiver_status_id ON alert_outbox (receiver, status, id);

CREATE TABLE alerts (
	fingerprint VARCHAR(16) NOT NULL,
	name VARCHAR(64) NOT NULL,
	body TEXT NOT NULL,
	updated_ms BIGINT NOT NULL,
	CONSTRAINT pk_alerts PRIMARY KEY (fingerprint)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE balance_snapshots (
	account VARCHAR(64) NOT NULL,
	minute_ms BIGINT NOT NULL,
	asset VARCHAR(16) NOT NULL,
	wallet_balance NUMERIC(36, 18) NOT NULL,
	unrealized_pnl NUMERIC(36, 18),
	CONSTRAINT pk_balance_snapshots PRIMARY KEY (account, minute_ms, asset)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE banlist_versions (
	account VARCHAR(64) NOT NULL,
	version BIGINT NOT NULL,
	generated_at_ms BIGINT NOT NULL,
	valid_until_ms BIGINT NOT NULL,
	body TEXT NOT NULL,
	CONSTRAINT pk_banlist_versions PRIMARY KEY (account, version)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE fills (
	account VARCHAR(64) NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	trade_id BIGINT NOT NULL,
	order_id BIGINT NOT NULL,
	client_order_id VARCHAR(64) NOT NULL,
	side VARCHAR(8) NOT NULL,
	position_side VARCHAR(8) NOT NULL,
	order_type VARCHAR(32) NOT NULL,
	price NUMERIC(36, 18) NOT NULL,
	qty NUMERIC(36, 18) NOT NULL,
	realized_pnl NUMERIC(36, 18) NOT NULL,
	commission NUMERIC(36, 18) NOT NULL,
	commission_asset VARCHAR(16) NOT NULL,
	maker BOOL NOT NULL,
	time_ms BIGINT NOT NULL,
	booked_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_fills PRIMARY KEY (account, symbol, trade_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_fills_account_time_ms ON fills (account, time_ms);

CREATE TABLE flattens (
	id BIGINT NOT NULL AUTO_INCREMENT,
	account VARCHAR(64) NOT NULL,
	scope VARCHAR(64) NOT NULL,
	operator VARCHAR(64) NOT NULL,
	reason VARCHAR(512) NOT NULL,
	started_ms BIGINT NOT NULL,
	ended_ms BIGINT,
	outcome VARCHAR(16) NOT NULL,
	report TEXT(16777215) NOT NULL,
	CONSTRAINT pk_flattens PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_flattens_account_started_ms ON flattens (account, started_ms);

CREATE TABLE income (
	account VARCHAR(64) NOT NULL,
	tran_id BIGINT NOT NULL,
	income_type VARCHAR(32) NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	asset VARCHAR(16) NOT NULL,
	amount NUMERIC(36, 18) NOT NULL,
	time_ms BIGINT NOT NULL,
	trade_id VARCHAR(32) NOT NULL,
	info VARCHAR(128) NOT NULL,
	booked_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_income PRIMARY KEY (account, tran_id, income_type)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_income_account_time_ms ON income (account, time_ms);

CREATE TABLE klines (
	symbol VARCHAR(32) NOT NULL,
	`interval` VARCHAR(8) NOT NULL,
	open_ms BIGINT NOT NULL,
	close_ms BIGINT NOT NULL,
	open VARCHAR(40) NOT NULL,
	high VARCHAR(40) NOT NULL,
	low VARCHAR(40) NOT NULL,
	close VARCHAR(40) NOT NULL,
	volume VARCHAR(40) NOT NULL,
	quote_volume VARCHAR(40) NOT NULL,
	trades BIGINT NOT NULL,
	taker_buy_volume VARCHAR(40) NOT NULL,
	taker_buy_quote_volume VARCHAR(40) NOT NULL,
	unused VARCHAR(40) NOT NULL,
	stored_ms BIGINT NOT NULL,
	CONSTRAINT pk_klines PRIMARY KEY (symbol, `interval`, open_ms)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE ledger_cursors (
	account VARCHAR(64) NOT NULL,
	income_next_start_ms BIGINT NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_ledger_cursors PRIMARY KEY (account)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE lock_events (
	id BIGINT NOT NULL AUTO_INCREMENT,
	lock_id BIGINT NOT NULL,
	account VARCHAR(64) NOT NULL,
	at_ms BIGINT NOT NULL,
	action VARCHAR(16) NOT NULL,
	actor VARCHAR(96) NOT NULL,
	until_ms BIGINT,
	detail VARCHAR(512) NOT NULL,
	CONSTRAINT pk_lock_events PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_lock_events_account_at_ms ON lock_events (account, at_ms);

CREATE INDEX ix_lock_events_lock_id ON lock_events (lock_id);

CREATE TABLE locks (
	id BIGINT NOT NULL AUTO_INCREMENT,
	account VARCHAR(64) NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	side VARCHAR(8) NOT NULL,
	reason_code VARCHAR(32) NOT NULL,
	reason_text VARCHAR(512) NOT NULL,
	source VARCHAR(96) NOT NULL,
	robot VARCHAR(16) NOT NULL DEFAULT '',
	created_ms BIGINT NOT NULL,
	until_ms BIGINT,
	active BOOL NOT NULL,
	ended_ms BIGINT,
	CONSTRAINT pk_locks PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_locks_account_active ON locks (account, active);

CREATE TABLE order_decisions (
	id BIGINT NOT NULL AUTO_INCREMENT,
	account VARCHAR(64) NOT NULL,
	robot VARCHAR(16) NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	side VARCHAR(8) NOT NULL,
	position_side VARCHAR(8) NOT NULL,
	order_type VARCHAR(16) NOT NULL,
	quantity NUMERIC(36, 18) NOT NULL,
	price NUMERIC(36, 18),
	reduce_only BOOL NOT NULL,
	passed BOOL NOT NULL,
	refusal VARCHAR(32),
	detail VARCHAR(512) NOT NULL,
	client_order_id VARCHAR(36),
	order_id BIGINT,
	decided_ms BIGINT NOT NULL,
	CONSTRAINT pk_order_decisions PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_order_decisions_account_decided_ms ON order_decisions (account, decided_ms);

CREATE INDEX ix_order_decisions_robot_decided_ms ON order_decisions (robot, decided_ms);

CREATE TABLE orders (
	account VARCHAR(64) NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	order_id BIGINT NOT NULL,
	client_order_id VARCHAR(64) NOT NULL,
	side VARCHAR(8) NOT NULL,
	position_side VARCHAR(8) NOT NULL,
	order_type VARCHAR(32) NOT NULL,
	status VARCHAR(32) NOT NULL,
	price NUMERIC(36, 18) NOT NULL,
	orig_qty NUMERIC(36, 18) NOT NULL,
	executed_qty NUMERIC(36, 18) NOT NULL,
	update_time_ms BIGINT NOT NULL,
	CONSTRAINT pk_orders PRIMARY KEY (account, symbol, order_id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE position_snapshots (
	account VARCHAR(64) NOT NULL,
	minute_ms BIGINT NOT NULL,
	symbol VARCHAR(32) NOT NULL,
	position_side VARCHAR(8) NOT NULL,
	amount NUMERIC(36, 18) NOT NULL,
	entry_price NUMERIC(36, 18) NOT NULL,
	mark_price NUMERIC(36, 18),
	unrealized_pnl NUMERIC(36, 18),
	CONSTRAINT pk_position_snapshots PRIMARY KEY (account, minute_ms, symbol, position_side)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE schema_meta (
	`key` VARCHAR(64) NOT NULL,
	value VARCHAR(255) NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_schema_meta PRIMARY KEY (`key`)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE silences (
	id BIGINT NOT NULL AUTO_INCREMENT,
	matchers TEXT NOT NULL,
	starts_ms BIGINT NOT NULL,
	ends_ms BIGINT NOT NULL,
	created_by VARCHAR(96) NOT NULL,
	comment VARCHAR(512) NOT NULL,
	created_ms BIGINT NOT NULL,
	expired_by VARCHAR(96),
	CONSTRAINT pk_silences PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_silences_ends_ms ON silences (ends_ms);

CREATE TABLE symbols (
	symbol VARCHAR(32) NOT NULL,
	status VARCHAR(16) NOT NULL,
	tick_size NUMERIC(36, 18) NOT NULL,
	step_size NUMERIC(36, 18) NOT NULL,
	min_qty NUMERIC(36, 18) NOT NULL,
	min_notional NUMERIC(36, 18) NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_symbols PRIMARY KEY (symbol)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE TABLE trading_states (
	id BIGINT NOT NULL AUTO_INCREMENT,
	account VARCHAR(64) NOT NULL,
	state VARCHAR(16) NOT NULL,
	reason VARCHAR(512) NOT NULL,
	actor VARCHAR(96) NOT NULL,
	at_ms BIGINT NOT NULL,
	CONSTRAINT pk_trading_states PRIMARY KEY (id)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;

CREATE INDEX ix_trading_states_account_at_ms ON trading_states (account, at_ms);
