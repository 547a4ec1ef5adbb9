/*
 * sqlite.c — the SQLite store's table of operations (store.h): each is
 * defined in the file of its part (sqlite.h says which).
 */
#include "internal.h"
#include "sqlite.h"

const struct risk__store risk__sqlite_store = {
	.engine = "sqlite",
	.close = risk__sq_db_close,
	.begin = risk__sq_db_begin,
	.begin_read = risk__sq_db_begin_read,
	.commit = risk__sq_db_commit,
	.rollback = risk__sq_db_rollback,
	.settle = risk__sq_db_settle,
	.replaced = risk__sq_db_replaced,
	.exec = risk__sq_db_exec,
	.bulk = risk__sq_db_bulk,
	.record_get = risk__sq_record_get,
	.record_put = risk__sq_record_put,
	.record_each = risk__sq_record_each,
	.history_each = risk__sq_history_each,
	.history_last = risk__sq_history_last,
	.history_stat = risk__sq_history_stat,
	.purge_history = risk__sq_purge_history,
	.enqueue_prio = risk__sq_enqueue_prio,
	.queue_next_due = risk__sq_queue_next_due,
	.queue_leased = risk__sq_queue_leased,
	.claim = risk__sq_claim,
	.ack = risk__sq_ack,
	.defer = risk__sq_defer,
	.release = risk__sq_release,
	.fail = risk__sq_fail,
	.dead_each = risk__sq_dead_each,
	.dead_get = risk__sq_dead_get,
	.redrive = risk__sq_redrive,
	.log_put = risk__sq_log_put,
	.run_put = risk__sq_run_put,
	.log_each = risk__sq_log_each,
	.stat_get = risk__sq_stat_get,
	.source_get = risk__sq_source_get,
	.source_put = risk__sq_source_put,
	.purge_records = risk__sq_purge_records,
	.purge_dead = risk__sq_purge_dead,
	.purge_log = risk__sq_purge_log,
	.vacuum = risk__sq_vacuum,
};
