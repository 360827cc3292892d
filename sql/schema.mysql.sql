-- Generated from riskd/store/schema.py by `python -m riskd.store.ddl > sql/schema.mysql.sql`.
-- Do not edit by hand. Schema version 1.

CREATE TABLE schema_meta (
	`key` VARCHAR(64) NOT NULL,
	value VARCHAR(255) NOT NULL,
	updated_at_ms BIGINT NOT NULL,
	CONSTRAINT pk_schema_meta PRIMARY KEY (`key`)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_bin;
