/*
 * vfs.c — SQLite's default file layer, with the writes to a -wal file
 * gathered into one system call per commit.
 *
 * SQLite appends a commit to the -wal file with two pwrite() calls per
 * page (the 24-byte frame header, then the page).  A drainer's commit
 * touches a dozen pages, so it was some 25 system calls, and a system
 * call costs microseconds on a virtual machine: more than the rest of
 * storing an answer.  This layer ("risk", registered once on top of the
 * default VFS and used by every connection db.c opens) keeps a run of
 * writes that follow one another in a -wal file in a buffer and writes
 * it in one call.  What reaches the file, and in which order, is what
 * SQLite wrote; only the number of calls changes.
 *
 * Invariants:
 * - A -wal file's buffered run is written out before anything may
 *   depend on it:
 *   - as soon as the frame that ends a commit is whole (its header
 *     carries the database size), inside that xWrite, so a failed write
 *     fails the commit as it would have without this layer, before the
 *     wal-index makes the commit visible to any reader;
 *   - before every other operation on the -wal file (read, sync,
 *     truncate, size, lock, file control, close) and before a write
 *     that does not extend the run;
 *   - at every xShmBarrier and xShmLock of its database, the only ways
 *     a writer publishes frames or hands the write lock on (a backstop:
 *     the commit rule above has emptied the buffer by then).
 *   A kill -9 therefore loses only frames of a commit not yet made.
 * - Only -wal files are buffered; the database, its -shm and every
 *   other file go straight through.  The buffer is at most RUN_MAX
 *   bytes, allocated on a -wal file's first write; without memory the
 *   write goes straight through.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "internal.h"

/* bytes: any page (64 KiB at most) fits, and no more than the unix VFS
 * passes to one pwrite() (it masks the count with 0x1ffff) */
#define RUN_MAX (120 * 1024)
#define FRAME_HDR 24		/* a WAL frame's header */
#define WAL_HDR 32		/* the WAL file's header */

struct wfile {
	sqlite3_file base;	/* pMethods: ours */
	sqlite3_file *real;	/* the default VFS's file, after this struct */
	struct wfile *wal;	/* a database: its open -wal file */
	struct wfile *db;	/* a -wal file: its database */
	bool iswal;
	bool commit;		/* the last write was a commit frame's header */
	unsigned char *buf;	/* the run: len bytes from offset off */
	int len;
	sqlite3_int64 off;
};

static sqlite3_vfs vfs;
static sqlite3_io_methods methods;	/* a file with -shm and mmap */
static sqlite3_io_methods methods1;	/* any other: version 1 calls */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool registered;

#define ROOT ((sqlite3_vfs *)vfs.pAppData)
#define REAL(f) (((struct wfile *)(f))->real)
#define RM(f) (REAL(f)->pMethods)

static int
flush(struct wfile *p)
{
	int rc, n = p->len;

	if (n == 0)
		return SQLITE_OK;
	p->len = 0;
	p->commit = false;
	rc = p->real->pMethods->xWrite(p->real, p->buf, n, p->off);
	return rc;
}

/* Flush a -wal file before an operation on it; SQLITE_OK otherwise. */
static int
before(sqlite3_file *f)
{
	struct wfile *p = (struct wfile *)f;

	return p->iswal ? flush(p) : SQLITE_OK;
}

static int
x_close(sqlite3_file *f)
{
	struct wfile *p = (struct wfile *)f;
	int rc = before(f), rc2;

	if (p->db != NULL && p->db->wal == p)
		p->db->wal = NULL;
	if (p->wal != NULL && p->wal->db == p)
		p->wal->db = NULL;
	rc2 = RM(f)->xClose(p->real);
	sqlite3_free(p->buf);
	p->buf = NULL;
	return rc != SQLITE_OK ? rc : rc2;
}

static int
x_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xRead(REAL(f), buf, amt, off);
}

static unsigned
be32(const unsigned char *b)
{
	return (unsigned)b[0] << 24 | (unsigned)b[1] << 16 |
	    (unsigned)b[2] << 8 | b[3];
}

static int
x_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct wfile *p = (struct wfile *)f;
	bool ends;
	int rc;

	if (!p->iswal)
		return RM(f)->xWrite(p->real, buf, amt, off);
	if (p->len > 0 && (off != p->off + p->len || amt > RUN_MAX - p->len) &&
	    (rc = flush(p)) != SQLITE_OK)
		return rc;
	if (p->buf == NULL)
		p->buf = sqlite3_malloc(RUN_MAX);
	if (p->buf == NULL || amt > RUN_MAX) {
		p->commit = false;
		return RM(f)->xWrite(p->real, buf, amt, off);
	}
	if (p->len == 0)
		p->off = off;
	memcpy(p->buf + p->len, buf, (size_t)amt);
	p->len += amt;
	/* the page after a commit frame's header ends the commit */
	ends = p->commit;
	p->commit = amt == FRAME_HDR && off >= WAL_HDR &&
	    be32((const unsigned char *)buf + 4) != 0;
	return ends ? flush(p) : SQLITE_OK;
}

static int
x_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xTruncate(REAL(f), size);
}

static int
x_sync(sqlite3_file *f, int flags)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xSync(REAL(f), flags);
}

static int
x_filesize(sqlite3_file *f, sqlite3_int64 *size)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xFileSize(REAL(f), size);
}

static int
x_lock(sqlite3_file *f, int lock)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xLock(REAL(f), lock);
}

static int
x_unlock(sqlite3_file *f, int lock)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xUnlock(REAL(f), lock);
}

static int
x_reserved(sqlite3_file *f, int *out)
{
	return RM(f)->xCheckReservedLock(REAL(f), out);
}

static int
x_fcntl(sqlite3_file *f, int op, void *arg)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xFileControl(REAL(f), op, arg);
}

static int
x_sectorsize(sqlite3_file *f)
{
	return RM(f)->xSectorSize(REAL(f));
}

static int
x_devchar(sqlite3_file *f)
{
	return RM(f)->xDeviceCharacteristics(REAL(f));
}

static int
x_shmmap(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return RM(f)->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

/* A database's -wal file, flushed before its frames can be published. */
static int
publish(sqlite3_file *f)
{
	struct wfile *p = (struct wfile *)f;

	return p->wal != NULL ? flush(p->wal) : SQLITE_OK;
}

static int
x_shmlock(sqlite3_file *f, int offset, int n, int flags)
{
	int rc = publish(f);

	return rc != SQLITE_OK ? rc : RM(f)->xShmLock(REAL(f), offset, n,
	    flags);
}

static void
x_shmbarrier(sqlite3_file *f)
{
	(void)publish(f);	/* empty: see the top */
	RM(f)->xShmBarrier(REAL(f));
}

static int
x_shmunmap(sqlite3_file *f, int del)
{
	return RM(f)->xShmUnmap(REAL(f), del);
}

static int
x_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	int rc = before(f);

	return rc != SQLITE_OK ? rc : RM(f)->xFetch(REAL(f), off, amt, pp);
}

static int
x_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return RM(f)->xUnfetch(REAL(f), off, p);
}

static int
x_open(sqlite3_vfs *v, sqlite3_filename name, sqlite3_file *f, int flags,
    int *outflags)
{
	struct wfile *p = (struct wfile *)f;
	const sqlite3_io_methods *m;
	sqlite3_file *dbf;
	int rc;

	(void)v;
	memset(p, 0, sizeof *p);
	p->real = (sqlite3_file *)((char *)p + ((sizeof *p + 7) & ~(size_t)7));
	rc = ROOT->xOpen(ROOT, name, p->real, flags, outflags);
	if (rc != SQLITE_OK) {
		if (p->real->pMethods != NULL)
			p->real->pMethods->xClose(p->real);
		p->base.pMethods = NULL;
		return rc;
	}
	/* no call the real file lacks: WAL needs xShmMap (SQLite asks) */
	m = p->real->pMethods;
	p->base.pMethods = m->iVersion >= 3 && m->xShmMap != NULL &&
	    m->xShmLock != NULL && m->xShmBarrier != NULL &&
	    m->xShmUnmap != NULL && m->xFetch != NULL && m->xUnfetch != NULL ?
	    &methods : &methods1;
	if ((flags & SQLITE_OPEN_WAL) && name != NULL &&
	    (dbf = sqlite3_database_file_object(name)) != NULL &&
	    dbf->pMethods == &methods) {
		p->iswal = true;
		p->db = (struct wfile *)dbf;
		p->db->wal = p;
	}
	return SQLITE_OK;
}

static int
x_delete(sqlite3_vfs *v, const char *name, int sync)
{
	(void)v;
	return ROOT->xDelete(ROOT, name, sync);
}

static int
x_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	(void)v;
	return ROOT->xAccess(ROOT, name, flags, out);
}

static int
x_fullpath(sqlite3_vfs *v, const char *name, int n, char *out)
{
	(void)v;
	return ROOT->xFullPathname(ROOT, name, n, out);
}

static void *
x_dlopen(sqlite3_vfs *v, const char *name)
{
	(void)v;
	return ROOT->xDlOpen(ROOT, name);
}

static void
x_dlerror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	ROOT->xDlError(ROOT, n, msg);
}

static void (*x_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
	(void)v;
	return ROOT->xDlSym(ROOT, h, sym);
}

static void
x_dlclose(sqlite3_vfs *v, void *h)
{
	(void)v;
	ROOT->xDlClose(ROOT, h);
}

static int
x_randomness(sqlite3_vfs *v, int n, char *out)
{
	(void)v;
	return ROOT->xRandomness(ROOT, n, out);
}

static int
x_sleep(sqlite3_vfs *v, int us)
{
	(void)v;
	return ROOT->xSleep(ROOT, us);
}

static int
x_time(sqlite3_vfs *v, double *t)
{
	(void)v;
	return ROOT->xCurrentTime(ROOT, t);
}

static int
x_lasterror(sqlite3_vfs *v, int n, char *msg)
{
	(void)v;
	return ROOT->xGetLastError(ROOT, n, msg);
}

static int
x_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
	(void)v;
	return ROOT->xCurrentTimeInt64(ROOT, t);
}

static void
setup(void)
{
	sqlite3_vfs *root;

	if (sqlite3_initialize() != SQLITE_OK ||
	    (root = sqlite3_vfs_find(NULL)) == NULL || root->iVersion < 2)
		return;
	methods = (sqlite3_io_methods){ .iVersion = 3, .xClose = x_close,
	    .xRead = x_read, .xWrite = x_write, .xTruncate = x_truncate,
	    .xSync = x_sync, .xFileSize = x_filesize, .xLock = x_lock,
	    .xUnlock = x_unlock, .xCheckReservedLock = x_reserved,
	    .xFileControl = x_fcntl, .xSectorSize = x_sectorsize,
	    .xDeviceCharacteristics = x_devchar, .xShmMap = x_shmmap,
	    .xShmLock = x_shmlock, .xShmBarrier = x_shmbarrier,
	    .xShmUnmap = x_shmunmap, .xFetch = x_fetch,
	    .xUnfetch = x_unfetch };
	methods1 = methods;
	methods1.iVersion = 1;
	vfs = (sqlite3_vfs){ .iVersion = 2, .szOsFile = (int)(((sizeof(
	    struct wfile) + 7) & ~(size_t)7) + (size_t)root->szOsFile),
	    .mxPathname = root->mxPathname, .zName = "risk",
	    .pAppData = root, .xOpen = x_open, .xDelete = x_delete,
	    .xAccess = x_access, .xFullPathname = x_fullpath,
	    .xDlOpen = x_dlopen, .xDlError = x_dlerror, .xDlSym = x_dlsym,
	    .xDlClose = x_dlclose, .xRandomness = x_randomness,
	    .xSleep = x_sleep, .xCurrentTime = x_time,
	    .xGetLastError = x_lasterror, .xCurrentTimeInt64 = x_time64 };
	registered = sqlite3_vfs_register(&vfs, 0) == SQLITE_OK;
}

const char *
risk__vfs(void)
{
	pthread_once(&once, setup);
	return registered ? vfs.zName : NULL;
}
