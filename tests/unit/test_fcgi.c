/*
 * test_fcgi.c — how risk-get tells a FastCGI start from any other: only
 * a listening socket on its standard input, decided without libfcgi.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "risk.h"

static void
test_listening(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int l, c, a, p[2], sp[2], null;

	(void)state;
	/* a listening socket, as lighttpd and spawn-fcgi hand it over */
	assert_true((l = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	snprintf(sa.sun_path, sizeof sa.sun_path, "fcgi.sock");
	unlink(sa.sun_path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(l, 4), 0);
	assert_true(risk_fcgi_listening(l));

	/* a connected socket (inetd, ssh, socket activation per connection)
	 * is a client, not a FastCGI server socket; nor is either end */
	assert_true((c = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_true((a = accept(l, NULL, NULL)) >= 0);
	assert_false(risk_fcgi_listening(c));
	assert_false(risk_fcgi_listening(a));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	assert_false(risk_fcgi_listening(sp[0]));

	/* CGI and the command line: a pipe, /dev/null, a closed fd */
	assert_int_equal(pipe(p), 0);
	assert_false(risk_fcgi_listening(p[0]));
	assert_true((null = open("/dev/null", O_RDONLY)) >= 0);
	assert_false(risk_fcgi_listening(null));
	close(null);
	assert_false(risk_fcgi_listening(null));

	close(l);
	close(c);
	close(a);
	close(sp[0]);
	close(sp[1]);
	close(p[0]);
	close(p[1]);
	unlink(sa.sun_path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listening),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
