/*
 * pg-get1.c — baseline for `risk-get ID` on PostgreSQL: the least a C
 * program must do to answer one ID from the same table.  Connect, one
 * parameterised SELECT, print one line, disconnect.  No options, no
 * schema check, no JSON library.
 *
 * usage: pg-get1 CONNINFO ID
 */
#include <stdio.h>

#include <libpq-fe.h>

int
main(int argc, char *argv[])
{
	const char *p[1];
	PGconn *c;
	PGresult *r;
	int st;

	if (argc != 3) {
		fprintf(stderr, "usage: pg-get1 CONNINFO ID\n");
		return 2;
	}
	c = PQconnectdb(argv[1]);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "pg-get1: %s", PQerrorMessage(c));
		return 2;
	}
	p[0] = argv[2];
	r = PQexecParams(c, "SELECT status, changed_at, fetched_at"
	    " FROM risk.record WHERE id = $1", 1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "pg-get1: %s", PQerrorMessage(c));
		st = 2;
	} else if (PQntuples(r) == 1) {
		printf("{\"id\":\"%s\",\"status\":\"%s\",\"changed_at\":%s,"
		    "\"fetched_at\":%s}\n", argv[2], PQgetvalue(r, 0, 0),
		    PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
		st = 0;
	} else {
		printf("{\"id\":\"%s\",\"error\":\"not_cached\"}\n", argv[2]);
		st = 1;
	}
	PQclear(r);
	PQfinish(c);
	return st;
}
