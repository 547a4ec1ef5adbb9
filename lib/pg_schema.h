/*
 * pg_schema.h — the PostgreSQL schema (pg.c makes and migrates it).
 *
 * The same tables as on SQLite (db.c), in the stage's schema, with
 * bigint epoch times.  Checks hold what the library assumes of every
 * row, so that a role that may add to the queue cannot write a row the
 * drainer would misread.  IDs sort byte by byte (COLLATE "C"), as on
 * SQLite, whatever the server's locale: walks and dumps come out in one
 * order on both engines.  meta.version counts forward migrations.
 */
#ifndef RISK_PG_SCHEMA_H
#define RISK_PG_SCHEMA_H

#define RISK__PG_VERSION 1

#define RISK__PG_ID_CHECK "id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$'"

static const char risk__pg_schema[] =
    "CREATE TABLE IF NOT EXISTS meta ("
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS record ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  status text,"			/* NULL: the service said 404 */
    "  changed_at bigint,"		/* seconds */
    "  fetched_at bigint NOT NULL);"	/* milliseconds */
    "CREATE TABLE IF NOT EXISTS dead ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  reason text NOT NULL,"
    "  attempts integer NOT NULL,"
    "  redrives integer NOT NULL DEFAULT 0,"
    "  enqueued_at bigint NOT NULL,"
    "  died_at bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS dead_died ON dead (died_at);"
    "CREATE TABLE IF NOT EXISTS fetch_log ("
    "  seq bigserial PRIMARY KEY,"	/* SQLite's rowid */
    "  at bigint NOT NULL,"
    "  id text COLLATE \"C\" NOT NULL,"
    "  outcome text NOT NULL,"
    "  http integer,"
    "  ms bigint,"
    "  reason text,"
    "  class text);"
    "CREATE INDEX IF NOT EXISTS fetch_log_at ON fetch_log (at);"
    "CREATE INDEX IF NOT EXISTS fetch_log_id ON fetch_log (id, seq);"
    "CREATE TABLE IF NOT EXISTS drain_run ("
    "  seq bigserial PRIMARY KEY,"
    "  started_at bigint NOT NULL,"
    "  ended_at bigint NOT NULL,"
    "  claimed bigint NOT NULL, stored bigint NOT NULL,"
    "  not_found bigint NOT NULL, retried bigint NOT NULL,"
    "  dead bigint NOT NULL, released bigint NOT NULL,"
    "  exit_status integer NOT NULL);"
    "CREATE INDEX IF NOT EXISTS drain_run_ended ON drain_run (ended_at);"
    "CREATE TABLE IF NOT EXISTS source ("
    "  id integer PRIMARY KEY CHECK (id = 1),"
    "  state text NOT NULL,"
    "  since bigint NOT NULL,"
    "  until bigint NOT NULL,"
    "  reason text,"
    "  win bigint NOT NULL,"		/* SQLite's window: a keyword here */
    "  window_at bigint NOT NULL,"
    "  probing boolean NOT NULL,"
    "  cred_fp text,"
    "  tokens double precision NOT NULL,"
    "  tokens_at bigint NOT NULL,"
    "  rate_n bigint NOT NULL,"
    "  rate_ms bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS history ("
    "  seq bigserial PRIMARY KEY,"	/* never reused */
    "  id text COLLATE \"C\" NOT NULL,"
    "  status text,"
    "  previous text,"
    "  first boolean NOT NULL,"
    "  changed_at bigint NOT NULL,"
    "  fetched_at bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS history_id ON history (id, seq);"
    "CREATE INDEX IF NOT EXISTS history_fetched ON history (fetched_at);"
    "CREATE TABLE IF NOT EXISTS history_total ("
    "  found boolean NOT NULL,"
    "  status text NOT NULL,"		/* '' when not found */
    "  n bigint NOT NULL,"
    "  PRIMARY KEY (found, status));"
    "CREATE TABLE IF NOT EXISTS queue ("
    "  id text COLLATE \"C\" PRIMARY KEY CHECK (" RISK__PG_ID_CHECK "),"
    "  due bigint NOT NULL,"
    "  token bigint,"			/* lease holder; NULL when free */
    "  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
    "  redrives integer NOT NULL DEFAULT 0 CHECK (redrives >= 0),"
    "  enqueued_at bigint NOT NULL,"
    "  last_error text,"
    "  priority smallint NOT NULL DEFAULT 1"
    "    CHECK (priority BETWEEN 0 AND 2));"
    "CREATE INDEX IF NOT EXISTS queue_pick"
    "  ON queue (priority DESC, due, id);"
    "CREATE INDEX IF NOT EXISTS queue_lease ON queue (due)"
    "  WHERE token IS NOT NULL;";

#endif
