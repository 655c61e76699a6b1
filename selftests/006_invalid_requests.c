// SPDX-License-Identifier: GPL-2.0
/*
 * 006: invalid requests and garbage written to the control files are
 * refused with EINVAL and change nothing: same limits, same Scsi_Host (no
 * re-creation), no fault armed, nothing outstanding, and the host still
 * moves data afterwards.
 */
#include <fcntl.h>

#include "kselftest_harness.h"
#include "tgt_selftest.h"

#define DESCRIPTION "invalid requests and garbage in the control files get EINVAL; the host keeps working"

FIXTURE(invalid) {
	int fd;
	unsigned int host_no;
	struct tgt_limits lim;
};

FIXTURE_SETUP(invalid)
{
	ASSERT_TGT(tgt_reset_host(0, NULL));
	ASSERT_EQ(0, tgt_limits_read(0, &self->lim));
	ASSERT_EQ(0, tgt_host_no(0, &self->host_no));
	self->fd = tgt_cmd_open(0);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(invalid)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* nothing changed, and a command still goes through */
static void still_works(struct __test_metadata *_metadata,
			FIXTURE_DATA(invalid) *self)
{
	struct tgt_limits now;
	struct tgt_counters c;
	struct tgt_result r;
	unsigned int no;
	char buf[128];

	ASSERT_EQ(0, tgt_limits_read(0, &now));
	ASSERT_TRUE(tgt_limits_equal(&self->lim, &now));
	ASSERT_EQ(0, tgt_host_no(0, &no));
	ASSERT_EQ(self->host_no, no);
	ASSERT_LT(0, tgt_read_host(0, SIM_LLD_F_FAULT, buf, sizeof(buf)));
	ASSERT_EQ(0, strncmp(buf, "type=none ", 10)) TH_LOG("fault: %s", buf);
	ASSERT_LT(0, tgt_read_host(0, SIM_LLD_F_COMPLETION, buf, sizeof(buf)));
	ASSERT_STREQ("inline\n", buf);
	ASSERT_TGT(tgt_check_idle(0, &c));
	ASSERT_EQ(0, c.v[C_RECREATED]);
	ASSERT_EQ(0, c.v[C_ERRORS]);

	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=to len=100000 seed=3 nowait\n"));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, "to", 100000, 3));
	ASSERT_TGT(tgt_check_chunking(&r, &self->lim));
	tgt_result_free(&r);
	ASSERT_EQ(0, tgt_cmd_write(self->fd, "dir=from len=100000 seed=4 nowait\n"));
	ASSERT_EQ(0, tgt_cmd_read(self->fd, &r));
	ASSERT_TGT(tgt_check_ok(&r, "from", 100000, 4));
	tgt_result_free(&r);
	ASSERT_TGT(tgt_check_idle(0, NULL));
}

/* malformed or refused command requests */
TEST_F(invalid, cmd_requests)
{
	unsigned long long cap;
	struct tgt_counters c;
	char big[400];
	unsigned int i;
	static const char *const bad[] = {
		"dir=sideways len=4096\n",	/* no such direction */
		"dir=TO len=4096\n",
		"len=4096\n",			/* no direction */
		"dir=to\n",			/* no length */
		"dir=to len=abc\n",
		"dir=to len=-1\n",
		"dir=to len=4294967296\n",	/* overflows u32 */
		"dir=to len=4096 align=4096\n",	/* align < 4096 */
		"dir=to len=4096 buf=kmalloc buf=vmalloc\n",
		"dir=to len=4096 buf=slab\n",
		"dir=to len=4096 frobnicate\n",
		"dir=to len=4096 seed=x\n",
		"dir=to len=4096 timeout_ms=\n",
		"wait bogus\n",
		"\n",
		" \t \n",
	};

	for (i = 0; i < TGT_ARRAY_SIZE(bad); i++) {
		const char *req = bad[i];

		ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "%s", req))
			TH_LOG("request %u: %s", i, req ?: "");
	}

	/* passed to the target core, which refuses them */
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "dir=bidi len=4096\n"));
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "dir=none len=4096\n"));
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "dir=bidi len=4096 nowait\n"));

	/* longer than the cap (module parameter max_cmd_len, hard cap) */
	ASSERT_EQ(0, tgt_module_param("max_cmd_len", &cap));
	ASSERT_LE(cap, SIM_LLD_MAX_CMD_LEN);
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "dir=to len=%llu\n", cap + 1));
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "dir=from len=%u\n",
					 SIM_LLD_MAX_CMD_LEN + 1));
	/* ... and the cap itself is fine (not run: 16 MiB is slow in UML) */

	/* a write longer than 256 bytes */
	memset(big, ' ', sizeof(big));
	memcpy(big, "dir=to len=4096", 15);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	ASSERT_EQ(-EINVAL, tgt_cmd_write(self->fd, "%s", big));

	/* an unknown command to wait for */
	ASSERT_EQ(-ENOENT, tgt_cmd_write(self->fd, "wait id=424242\n"));

	/* the refused ones never reached the LLD */
	ASSERT_EQ(0, tgt_counters_read(0, &c));
	ASSERT_EQ(0, c.v[C_CHUNKS]);
	ASSERT_EQ(0, c.v[C_RESPONSES]);
	still_works(_metadata, self);
}

/* garbage in the limit knobs, the limits file, completion, fault, counters */
TEST_F(invalid, control_files)
{
	static const struct {
		const char *file, *text;
	} bad[] = {
		{ SIM_LLD_F_SG_TABLESIZE, "0\n" },
		{ SIM_LLD_F_SG_TABLESIZE, "2049\n" },
		{ SIM_LLD_F_SG_TABLESIZE, "many\n" },
		{ SIM_LLD_F_MAX_SECTORS, "7\n" },
		{ SIM_LLD_F_MAX_SECTORS, "32769\n" },
		{ SIM_LLD_F_MAX_SECTORS, "-8\n" },
		{ SIM_LLD_F_MAX_SECTORS, "99999999999999999999999\n" },
		{ SIM_LLD_F_MAX_SECTORS, "0x\n" },
		{ SIM_LLD_F_MAX_SECTORS, "16 16\n" },
		{ SIM_LLD_F_MAX_SEGMENT_SIZE, "512\n" },	/* < PAGE_SIZE */
		{ SIM_LLD_F_MAX_SEGMENT_SIZE, "4095\n" },
		{ SIM_LLD_F_MAX_SEGMENT_SIZE, "1073741825\n" },
		{ SIM_LLD_F_DMA_BOUNDARY, "0x1000\n" },	/* not 2^n-1 */
		{ SIM_LLD_F_DMA_BOUNDARY, "0x7ff\n" },	/* < PAGE_SIZE-1 */
		{ SIM_LLD_F_DMA_BOUNDARY, "4094\n" },
		{ SIM_LLD_F_CAN_QUEUE, "0\n" },
		{ SIM_LLD_F_CAN_QUEUE, "4097\n" },
		{ SIM_LLD_F_CAN_QUEUE, "\n" },
		{ SIM_LLD_F_LIMITS, "sg_tablesize=0\n" },
		{ SIM_LLD_F_LIMITS, "max_sectors=16 bogus=1\n" },
		{ SIM_LLD_F_LIMITS, "max_sectors\n" },
		{ SIM_LLD_F_LIMITS, "max_sectors=16 dma_boundary=0x1000\n" },
		{ SIM_LLD_F_LIMITS, "can_queue=abc\n" },
		{ SIM_LLD_F_COMPLETION, "fast\n" },
		{ SIM_LLD_F_COMPLETION, "\n" },
		{ SIM_LLD_F_FAULT, "explode\n" },
		{ SIM_LLD_F_FAULT, "fail\n" },			/* no target */
		{ SIM_LLD_F_FAULT, "fail times=2\n" },
		{ SIM_LLD_F_FAULT, "fail chunk=x\n" },
		{ SIM_LLD_F_FAULT, "busy chunk=1 times=-2\n" },
		{ SIM_LLD_F_FAULT, "drop chunk=1 now\n" },
		{ SIM_LLD_F_COUNTERS, "1\n" },
		{ SIM_LLD_F_COUNTERS, "clear\n" },
	};
	unsigned int i;
	unsigned long long n;

	for (i = 0; i < TGT_ARRAY_SIZE(bad); i++) {
		const char *file = bad[i].file, *text = bad[i].text;

		ASSERT_EQ(-EINVAL, tgt_write_host(0, file, "%s", text))
			TH_LOG("%s <- %s", file ?: "", text ?: "");
	}
	/* root files */
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_ADD_HOST, "some\n"));
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_ADD_HOST, "65\n"));
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_ADD_HOST, "-65\n"));
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_REMOVE_HOST, "host0\n"));
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_REMOVE_HOST, "64\n"));
	ASSERT_EQ(-EINVAL, tgt_write_root(SIM_LLD_F_REMOVE_HOST, "-1\n"));
	ASSERT_EQ(0, tgt_read_ull(SIM_LLD_DEBUGFS_ROOT "/" SIM_LLD_F_ADD_HOST, &n));
	ASSERT_EQ(0, access(SIM_LLD_DEBUGFS_ROOT "/host0", F_OK));

	still_works(_metadata, self);
}

/* garbage bytes (not text) in every writable file of the host */
TEST_F(invalid, binary_garbage)
{
	static const char *const files[] = {
		SIM_LLD_F_SG_TABLESIZE, SIM_LLD_F_MAX_SECTORS,
		SIM_LLD_F_MAX_SEGMENT_SIZE, SIM_LLD_F_DMA_BOUNDARY,
		SIM_LLD_F_CAN_QUEUE, SIM_LLD_F_LIMITS, SIM_LLD_F_COMPLETION,
		SIM_LLD_F_FAULT, SIM_LLD_F_COUNTERS, SIM_LLD_F_CMD,
	};
	uint64_t s = tgt_seed();
	char path[256], junk[64];
	unsigned int i, j, k;
	int fd;

	for (i = 0; i < TGT_ARRAY_SIZE(files); i++) {
		tgt_host_path(path, sizeof(path), 0, files[i]);
		for (k = 0; k < 8; k++) {
			for (j = 0; j < sizeof(junk); j++)
				junk[j] = (char)(tgt_rand(&s) | 0x80);
			fd = open(path, O_WRONLY);
			ASSERT_LE(0, fd);
			ASSERT_EQ(-1, write(fd, junk, 1 + k * 7)) TH_LOG("%s", files[i]);
			ASSERT_EQ(EINVAL, errno) TH_LOG("%s", files[i]);
			close(fd);
		}
		/* an empty write is not a value either */
		fd = open(path, O_WRONLY);
		ASSERT_LE(0, fd);
		ASSERT_EQ(-1, write(fd, junk, 0)) TH_LOG("%s", files[i]);
		ASSERT_EQ(EINVAL, errno) TH_LOG("%s", files[i]);
		close(fd);
	}
	still_works(_metadata, self);
}

TGT_SELFTEST_MAIN(DESCRIPTION)
