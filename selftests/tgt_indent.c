// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_indent - init.sh's filter of a selftest program's output: each line
 * indented by four spaces and, before each test's RUN line and result line
 * ("#  RUN ...", "ok N ...", "not ok N ..."), the guest's monotonic clock as
 * "    # tgtsim-time: S.SSSSSS" (tgtsim's per-test durations). Line by line,
 * flushed, so that a line reaches the console when the program prints it.
 *
 * It replaces a perl one-liner (the fallback in init.sh): perl with
 * Time::HiRes takes 0.34 s to start inside UML, once per program.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* perl: /^#\s+RUN\s|^(?:not )?ok \d+ / */
static int timed_line(const char *s)
{
	const char *p = s + 1;

	if (*s == '#') {
		if (!isspace((unsigned char)*p))
			return 0;
		while (isspace((unsigned char)*p))
			p++;
		return !strncmp(p, "RUN", 3) && isspace((unsigned char)p[3]);
	}
	if (!strncmp(s, "not ", 4))
		s += 4;
	if (strncmp(s, "ok ", 3))
		return 0;
	p = s + 3;
	if (!isdigit((unsigned char)*p))
		return 0;
	while (isdigit((unsigned char)*p))
		p++;
	return *p == ' ';
}

int main(void)
{
	struct timespec ts;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) > 0) {
		if (timed_line(line) && !clock_gettime(CLOCK_MONOTONIC, &ts))
			printf("    # tgtsim-time: %ld.%06ld\n", (long)ts.tv_sec,
			       ts.tv_nsec / 1000);
		fputs("    ", stdout);
		fwrite(line, 1, n, stdout);
		fflush(stdout);
	}
	free(line);
	return 0;
}
