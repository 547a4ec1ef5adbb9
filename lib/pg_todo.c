/*
 * pg_todo.c — SCAFFOLDING, to be deleted: every PostgreSQL store
 * operation not written yet, failing with "not yet on PostgreSQL", so
 * that the programs link while pg_record.c, pg_queue.c and pg_ops.c are
 * written.  Whoever lands one of those files deletes its block here
 * (the blocks are far apart, so the deletions do not conflict); the
 * last one deletes this file.
 */
#include "pg.h"

#define TODO(db, err) risk_seterr((err), RISK_EDB, \
	"%s: not yet on PostgreSQL", (db)->pg->name)









