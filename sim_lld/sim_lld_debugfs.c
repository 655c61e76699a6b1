// SPDX-License-Identifier: GPL-2.0
/*
 * sim_lld - the debugfs interface (/sys/kernel/debug/sim_lld/, see
 * README.md and sim_lld_uapi.h) and the parsers of what is written to it.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/ctype.h>
#include <linux/debugfs.h>
#include <linux/fault-inject.h>
#include <linux/fs.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/uaccess.h>
#include <kunit/visibility.h>

#include <scsi/scsi_common.h>
#include <scsi/scsi_host.h>

#include "sim_lld_priv.h"

static struct dentry *sim_debugfs_root;
static const char * const sim_state_names[] = SIM_LLD_STATE_NAMES;

#define SIM_WRITE_MAX	256

static char *sim_get_user_text(const char __user *ubuf, size_t count)
{
	if (!count || count > SIM_WRITE_MAX)
		return ERR_PTR(-EINVAL);
	return memdup_user_nul(ubuf, count);
}

/* the seq_file's private data: what the file was created with */
static void *sim_seq_private(struct file *file)
{
	return ((struct seq_file *)file->private_data)->private;
}

static int sim_knob_show(struct seq_file *m, void *v)
{
	struct sim_knob_file *kf = m->private;
	struct sim_lld_limits lim;

	sim_lld_host_get_limits(kf->sh, &lim);
	if (kf->knob == SIM_LLD_KNOB_DMA_BOUNDARY)
		seq_printf(m, "0x%llx\n", lim.v[kf->knob]);
	else
		seq_printf(m, "%llu\n", lim.v[kf->knob]);
	return 0;
}

static ssize_t sim_knob_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	struct sim_knob_file *kf = sim_seq_private(file);
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sim_lld_host_store_knob(kf->sh, kf->knob, buf);
	kfree(buf);
	return ret ?: count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_knob);

static int sim_limits_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct sim_lld_limits lim;

	sim_lld_host_get_limits(sh, &lim);
	seq_printf(m, "sg_tablesize=%llu max_sectors=%llu max_segment_size=%llu dma_boundary=0x%llx can_queue=%llu\n",
		   lim.v[0], lim.v[1], lim.v[2], lim.v[3], lim.v[4]);
	return 0;
}

/**
 * sim_lld_parse_limits - parse a write of the limits file
 * @buf: "key=value ..." (keys: the knob names), modified
 * @lim: the keys given are set, the others left as they are
 *
 * Return: 0, or -EINVAL for a token without '=', an unknown key or an
 * invalid value (@lim may be partly updated then).
 */
VISIBLE_IF_KUNIT int sim_lld_parse_limits(char *buf, struct sim_lld_limits *lim)
{
	char *tok, *val;
	int k, ret;

	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		val = strchr(tok, '=');
		if (!val) {
			pr_err("limits: expected key=value\n");
			return -EINVAL;
		}
		*val++ = '\0';
		for (k = 0; k < SIM_LLD_NR_KNOBS; k++)
			if (!strcmp(tok, sim_lld_knobs[k].name))
				break;
		if (k == SIM_LLD_NR_KNOBS) {
			pr_err("limits: unknown key\n");
			return -EINVAL;
		}
		ret = sim_lld_parse_knob(k, val, &lim->v[k]);
		if (ret)
			return ret;
	}
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_parse_limits);

static ssize_t sim_limits_write(struct file *file, const char __user *ubuf,
				size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = sim_seq_private(file);
	struct sim_lld_limits lim;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	sim_lld_host_get_limits(sh, &lim);
	ret = sim_lld_parse_limits(buf, &lim);
	kfree(buf);
	if (!ret)
		ret = sim_lld_host_set_limits(sh, &lim);
	return ret ?: count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_limits);

static int sim_completion_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;

	seq_printf(m, "%s\n", sim_lld_compl_names[READ_ONCE(sh->completion)]);
	return 0;
}

static ssize_t sim_completion_write(struct file *file,
				    const char __user *ubuf, size_t count,
				    loff_t *ppos)
{
	struct sim_lld_host *sh = sim_seq_private(file);
	char *buf;
	int mode;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mode = sim_lld_parse_completion(buf);
	kfree(buf);
	if (mode < 0)
		return mode;
	WRITE_ONCE(sh->completion, mode);
	return count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_completion);

static const char * const sim_fault_names[] = {
	"none", "fail", "busy", "drop"
};

static int sim_fault_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct sim_lld_fault f;
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	f = sh->fault;
	spin_unlock_irqrestore(&sh->lock, flags);
	seq_printf(m, "type=%s chunk=%u resp=%d times=%d dropped=%d\n",
		   sim_fault_names[f.type], f.chunk, f.resp, f.times,
		   atomic_read(&sh->dropped_now));
	return 0;
}

/**
 * sim_lld_parse_fault - parse a write of the fault file
 * @buf: "none" | "flush" | "fail|busy|drop chunk=N [times=K]" |
 *	 "fail|busy|drop resp [times=K]" (times -1 = every time), modified
 * @f: the fault, for all but "flush"
 * @flush: set for "flush"
 *
 * Return: 0 or -EINVAL.
 */
VISIBLE_IF_KUNIT int sim_lld_parse_fault(char *buf, struct sim_lld_fault *f, bool *flush)
{
	bool have_target = false;
	char *tok;
	int i;

	memset(f, 0, sizeof(*f));
	f->times = 1;
	*flush = false;
	do {
		tok = strsep(&buf, " \t\n");
	} while (tok && !*tok);
	if (!tok)
		goto bad;
	if (!strcmp(tok, "flush")) {
		while ((tok = strsep(&buf, " \t\n")) != NULL)
			if (*tok)
				goto bad;
		*flush = true;
		return 0;
	}
	for (i = 0; i < ARRAY_SIZE(sim_fault_names); i++)
		if (!strcmp(tok, sim_fault_names[i]))
			break;
	if (i == ARRAY_SIZE(sim_fault_names))
		goto bad;
	f->type = i;
	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "resp") && f->type != SIM_LLD_FAULT_NONE) {
			f->resp = true;
			have_target = true;
		} else if (!strncmp(tok, "chunk=", 6) &&
			   f->type != SIM_LLD_FAULT_NONE) {
			if (kstrtou32(tok + 6, 0, &f->chunk))
				goto bad;
			have_target = true;
		} else if (!strncmp(tok, "times=", 6) &&
			   f->type != SIM_LLD_FAULT_NONE) {
			if (kstrtoint(tok + 6, 0, &f->times) || f->times < -1)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (f->type != SIM_LLD_FAULT_NONE && !have_target)
		goto bad;
	return 0;
bad:
	pr_err_ratelimited("fault: use none, flush, or fail|busy|drop chunk=N|resp [times=K]\n");
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_parse_fault);

static ssize_t sim_fault_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = sim_seq_private(file);
	struct sim_lld_fault f;
	bool flush;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sim_lld_parse_fault(buf, &f, &flush);
	kfree(buf);
	if (ret)
		return ret;
	if (flush)
		sim_lld_host_flush_dropped(sh);
	else
		sim_lld_host_set_fault(sh, &f);
	return count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_fault);

static int sim_sense_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct sim_lld_sense s;
	unsigned long flags;

	spin_lock_irqsave(&sh->lock, flags);
	s = sh->sense;
	spin_unlock_irqrestore(&sh->lock, flags);
	if (!s.on)
		seq_puts(m, "none\n");
	else
		seq_printf(m, "key=0x%x asc=0x%x ascq=0x%x%s\n", s.key, s.asc,
			   s.ascq, s.desc ? " desc" : "");
	return 0;
}

/**
 * sim_lld_parse_sense - parse a write of the sense file
 * @buf: "none" | "key=K asc=A ascq=Q [desc]" (K 1..15, A and Q 0..255),
 *	 modified
 * @s: the sense
 *
 * Return: 0 or -EINVAL.
 */
VISIBLE_IF_KUNIT int sim_lld_parse_sense(char *buf, struct sim_lld_sense *s)
{
	bool none = false;
	char *tok;

	memset(s, 0, sizeof(*s));
	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "none")) {
			none = true;
			continue;
		}
		s->on = true;
		if (!strncmp(tok, "key=", 4)) {
			if (kstrtou8(tok + 4, 0, &s->key) || !s->key ||
			    s->key > 0xf)
				goto bad;
		} else if (!strncmp(tok, "asc=", 4)) {
			if (kstrtou8(tok + 4, 0, &s->asc))
				goto bad;
		} else if (!strncmp(tok, "ascq=", 5)) {
			if (kstrtou8(tok + 5, 0, &s->ascq))
				goto bad;
		} else if (!strcmp(tok, "desc")) {
			s->desc = true;
		} else {
			goto bad;
		}
	}
	if (none ? !s->on : s->key != 0)
		return 0;
bad:
	pr_err_ratelimited("sense: use none, or key=K asc=A ascq=Q [desc]\n");
	return -EINVAL;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_parse_sense);

static ssize_t sim_sense_write(struct file *file, const char __user *ubuf,
			       size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = sim_seq_private(file);
	struct sim_lld_sense s;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = sim_lld_parse_sense(buf, &s);
	kfree(buf);
	if (ret)
		return ret;
	sim_lld_host_set_sense(sh, &s);
	return count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_sense);

static int sim_counters_show(struct seq_file *m, void *v)
{
	static const char * const names[] = SIM_LLD_COUNTER_NAMES;
	struct sim_lld_host *sh = m->private;
	struct sim_lld_counters c;
	const u64 *val = (const u64 *)&c;
	int i;

	BUILD_BUG_ON(sizeof(c) != ARRAY_SIZE(names) * sizeof(u64));
	sim_lld_host_counters(sh, &c);
	for (i = 0; i < ARRAY_SIZE(names); i++)
		seq_printf(m, "%s %llu\n", names[i], val[i]);
	return 0;
}

static ssize_t sim_counters_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh = sim_seq_private(file);
	char *buf;
	bool ok;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ok = sysfs_streq(buf, "0") || sysfs_streq(buf, "reset");
	kfree(buf);
	if (!ok)
		return -EINVAL;
	sim_lld_host_reset_counters(sh);
	return count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_counters);

static int sim_host_no_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh = m->private;
	struct Scsi_Host *shost;

	mutex_lock(&sh->cfg_mutex);
	shost = sh->shost;
	if (shost)
		seq_printf(m, "%u\n", shost->host_no);
	mutex_unlock(&sh->cfg_mutex);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sim_host_no);

/* the cmd file: per open file state */
struct sim_fd {
	struct sim_lld_host *sh;	/* holds a reference */
	struct mutex lock;
	struct sim_lld_cmd *cur;
	bool summary;
	u32 waited, ok, failed, still_pending;
	char *text;
	size_t text_len;
};

static int sim_cmd_open(struct inode *inode, struct file *file)
{
	struct sim_lld_host *sh = inode->i_private;
	struct sim_fd *fd;

	fd = kzalloc(sizeof(*fd), GFP_KERNEL);
	if (!fd)
		return -ENOMEM;
	kref_get(&sh->kref);
	fd->sh = sh;
	mutex_init(&fd->lock);
	file->private_data = fd;
	return 0;
}

/* release a command of this fd unless it is async and not yet collected */
static void sim_fd_drop_cur(struct sim_fd *fd)
{
	struct sim_lld_cmd *sc = fd->cur;

	fd->cur = NULL;
	if (sc && (!(sc->req.flags & SIM_LLD_REQ_ASYNC) || sc->collected))
		sim_lld_cmd_release(sc);
}

static int sim_cmd_release_file(struct inode *inode, struct file *file)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_host *sh = fd->sh;
	struct sim_lld_cmd *sc, *tmp;
	unsigned long flags;
	LIST_HEAD(mine);

	fd->cur = NULL;
	spin_lock_irqsave(&sh->lock, flags);
	list_for_each_entry_safe(sc, tmp, &sh->cmds, node) {
		if (sc->owner != fd)
			continue;
		sc->owner = NULL;
		if (sc->state == SIM_LLD_CMD_DONE)
			list_move(&sc->node, &mine);
		else
			sc->orphan = true;
	}
	spin_unlock_irqrestore(&sh->lock, flags);
	list_for_each_entry_safe(sc, tmp, &mine, node) {
		list_del_init(&sc->node);
		sim_lld_cmd_free(sc);
	}
	kvfree(fd->text);
	kfree(fd);
	sim_lld_host_put(sh);
	return 0;
}

static const char *sim_dir_name(enum dma_data_direction dir)
{
	switch (dir) {
	case DMA_TO_DEVICE:
		return "to";
	case DMA_FROM_DEVICE:
		return "from";
	case DMA_NONE:
		return "none";
	default:
		return "bidi";
	}
}

static int sim_parse_dir(const char *s, enum dma_data_direction *dir)
{
	if (!strcmp(s, "to"))
		*dir = DMA_TO_DEVICE;
	else if (!strcmp(s, "from"))
		*dir = DMA_FROM_DEVICE;
	else if (!strcmp(s, "none"))
		*dir = DMA_NONE;
	else if (!strcmp(s, "bidi"))
		*dir = DMA_BIDIRECTIONAL;
	else
		return -EINVAL;
	return 0;
}

/**
 * sim_lld_parse_req - parse a command request written to the cmd file
 * @buf: "dir=to|from|none|bidi len=N [seed=S] [align=A]
 *	 [buf=kvmalloc|kmalloc|vmalloc] [async] [nowait] [timeout_ms=T]",
 *	 modified
 * @req: the request
 *
 * Syntax only; sim_lld_cmd_run() checks the values (and refuses both
 * buf=kmalloc and buf=vmalloc; buf=kvmalloc clears both).
 *
 * Return: 0, or -EINVAL for a missing dir or len, an unknown token or a
 * value that is not a number.
 */
VISIBLE_IF_KUNIT int sim_lld_parse_req(char *buf, struct sim_lld_req *req)
{
	bool have_dir = false, have_len = false;
	char *tok;
	int ret = 0;

	memset(req, 0, sizeof(*req));
	while (!ret && (tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strncmp(tok, "dir=", 4)) {
			ret = sim_parse_dir(tok + 4, &req->dir);
			have_dir = true;
		} else if (!strncmp(tok, "len=", 4)) {
			ret = kstrtou32(tok + 4, 0, &req->len);
			have_len = true;
		} else if (!strncmp(tok, "seed=", 5)) {
			ret = kstrtou32(tok + 5, 0, &req->seed);
		} else if (!strncmp(tok, "align=", 6)) {
			ret = kstrtou32(tok + 6, 0, &req->align);
		} else if (!strncmp(tok, "timeout_ms=", 11)) {
			ret = kstrtou32(tok + 11, 0, &req->timeout_ms);
		} else if (!strcmp(tok, "buf=kmalloc")) {
			req->flags |= SIM_LLD_REQ_KMALLOC;
		} else if (!strcmp(tok, "buf=vmalloc")) {
			req->flags |= SIM_LLD_REQ_VMALLOC;
		} else if (!strcmp(tok, "buf=kvmalloc")) {
			req->flags &= ~(SIM_LLD_REQ_KMALLOC |
					SIM_LLD_REQ_VMALLOC);
		} else if (!strcmp(tok, "async")) {
			req->flags |= SIM_LLD_REQ_ASYNC;
		} else if (!strcmp(tok, "nowait")) {
			req->flags |= SIM_LLD_REQ_NOWAIT;
		} else {
			ret = -EINVAL;
		}
	}
	if (!ret && (!have_dir || !have_len))
		ret = -EINVAL;
	if (ret)
		pr_err_ratelimited("cmd: invalid request, see README.md\n");
	return ret ? -EINVAL : 0;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_parse_req);

/* "wait id=N [timeout_ms=T]" | "wait all [timeout_ms=T]" */
static int sim_fd_wait(struct sim_fd *fd, char *buf)
{
	struct sim_lld_host *sh = fd->sh;
	struct sim_lld_cmd *sc, *found = NULL;
	unsigned int tmo = READ_ONCE(sim_lld_cmd_timeout_ms);
	unsigned long flags, end;
	bool all = false, have_id = false;
	u64 id = 0;
	char *tok;

	while ((tok = strsep(&buf, " \t\n")) != NULL) {
		if (!*tok)
			continue;
		if (!strcmp(tok, "all"))
			all = true;
		else if (!strncmp(tok, "id=", 3) && !kstrtou64(tok + 3, 0, &id))
			have_id = true;
		else if (strncmp(tok, "timeout_ms=", 11) ||
			 kstrtouint(tok + 11, 0, &tmo))
			return -EINVAL;
	}
	if (all == have_id) {
		pr_err_ratelimited("cmd: use wait id=N or wait all [timeout_ms=T]\n");
		return -EINVAL;
	}
	if (!all) {
		spin_lock_irqsave(&sh->lock, flags);
		list_for_each_entry(sc, &sh->cmds, node)
			if (sc->owner == fd && sc->id == id)
				found = sc;
		spin_unlock_irqrestore(&sh->lock, flags);
		if (!found)
			return -ENOENT;
		if (found != fd->cur)
			sim_fd_drop_cur(fd);
		found->collected = true;
		fd->cur = found;
		fd->summary = false;
		return sim_lld_cmd_wait(found, tmo);
	}

	/* all async commands of this fd: wait, count, release */
	sim_fd_drop_cur(fd);
	fd->summary = true;
	fd->waited = 0;
	fd->ok = 0;
	fd->failed = 0;
	fd->still_pending = 0;
	end = jiffies + msecs_to_jiffies(tmo);
	for (;;) {
		found = NULL;
		spin_lock_irqsave(&sh->lock, flags);
		list_for_each_entry(sc, &sh->cmds, node) {
			if (sc->owner == fd && !sc->collected) {
				found = sc;
				sc->collected = true;
				break;
			}
		}
		spin_unlock_irqrestore(&sh->lock, flags);
		if (!found)
			break;
		fd->waited++;
		if (!wait_for_completion_timeout(&found->done,
						 max_t(long, end - jiffies, 1))) {
			fd->still_pending++;
		} else if (found->err ||
			   found->verify == SIM_LLD_VERIFY_MISMATCH) {
			fd->failed++;
		} else {
			fd->ok++;
		}
		sim_lld_cmd_release(found);
	}
	return fd->still_pending ? -ETIMEDOUT : 0;
}

static ssize_t sim_cmd_write(struct file *file, const char __user *ubuf,
			     size_t count, loff_t *ppos)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_req req;
	struct sim_lld_cmd *sc;
	char *buf, *p;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mutex_lock(&fd->lock);
	p = skip_spaces(buf);
	if (!strncmp(p, "wait", 4) && (!p[4] || isspace(p[4]))) {
		ret = sim_fd_wait(fd, p + 4);
		goto out;
	}
	ret = sim_lld_parse_req(p, &req);
	if (ret)
		goto out;
	ret = sim_lld_cmd_run(fd->sh, &req, fd, &sc);
	if (sc) {
		sim_fd_drop_cur(fd);
		fd->cur = sc;
		fd->summary = false;
	}
out:
	/* the next read renders the result of this write */
	*ppos = 0;
	mutex_unlock(&fd->lock);
	kfree(buf);
	return ret ?: count;
}

static bool sim_cmd_done_p(const struct sim_lld_cmd *sc)
{
	/*
	 * The log is stable only once the command is done: pairs with the
	 * smp_store_release() in sim_cmd_reap().
	 */
	return smp_load_acquire(&sc->state) == SIM_LLD_CMD_DONE;
}

/**
 * sim_lld_cmd_render_size - buffer size sim_lld_cmd_render() needs
 * @sc: command
 *
 * Return: the size, enough for the longest values of every field.
 */
VISIBLE_IF_KUNIT size_t sim_lld_cmd_render_size(const struct sim_lld_cmd *sc)
{
	if (!sim_cmd_done_p(sc))
		return 256;
	return 256 + 128 + 2 * SIM_LLD_SENSE_BYTES +
	       (size_t)sc->log.nr_chunks * 96 + (size_t)sc->log.nr_segs * 64;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_cmd_render_size);

/**
 * sim_lld_cmd_render - the text a read of the cmd file gives for a command
 * @sc: command
 * @buf: output
 * @size: its size, see sim_lld_cmd_render_size()
 *
 * A command in flight is one SIM_LLD_CMD_FMT line with state=pending; a
 * finished one is followed by its log (SIM_LLD_CHUNK_FMT and SIM_LLD_SEG_FMT
 * lines, SIM_LLD_RESP_FMT if the response was sent, SIM_LLD_SENSE_FMT if
 * it carried sense data).
 *
 * Return: the length of the text (without the NUL).
 */
VISIBLE_IF_KUNIT size_t sim_lld_cmd_render(const struct sim_lld_cmd *sc,
					   char *buf, size_t size)
{
	const struct sim_lld_log *log = &sc->log;
	size_t n;
	u32 i, j;

	if (!sim_cmd_done_p(sc))
		return scnprintf(buf, size, SIM_LLD_CMD_FMT, sc->id,
				 sim_state_names[SIM_LLD_CMD_PENDING],
				 sim_dir_name(sc->req.dir), sc->req.len,
				 sc->req.seed, 0, 0, SIM_LLD_VERIFY_SKIPPED,
				 -1LL, 0, 0);

	n = scnprintf(buf, size, SIM_LLD_CMD_FMT, sc->id,
		      sim_state_names[SIM_LLD_CMD_DONE],
		      sim_dir_name(sc->req.dir), sc->req.len, sc->req.seed,
		      sc->err, sc->result, sc->verify, sc->mismatch,
		      log->nr_chunks, log->overflow);
	for (i = 0; i < log->nr_chunks; i++) {
		const struct sim_lld_chunk *c = &log->chunks[i];

		n += scnprintf(buf + n, size - n, SIM_LLD_CHUNK_FMT, i,
			       c->offset, c->length, c->nents, c->result,
			       sim_lld_reason_names[c->reason]);
		for (j = 0; j < c->nsegs; j++) {
			const struct sim_lld_seg *sg;

			sg = &log->segs[c->first_seg + j];
			n += scnprintf(buf + n, size - n, SIM_LLD_SEG_FMT, j,
				       sg->length, sg->addr);
		}
	}
	if (log->resp_seen)
		n += scnprintf(buf + n, size - n, SIM_LLD_RESP_FMT,
			       log->resp_status, log->resp_result,
			       sim_lld_reason_names[log->resp_reason]);
	if (log->sense_len) {
		char hex[2 * SIM_LLD_SENSE_BYTES + 1];
		struct scsi_sense_hdr sshdr = {};

		/* what the buffer says, not what the knob asked for */
		scsi_normalize_sense(log->sense, log->sense_len, &sshdr);
		bin2hex(hex, log->sense, log->sense_len);
		hex[2 * log->sense_len] = '\0';
		n += scnprintf(buf + n, size - n, SIM_LLD_SENSE_FMT,
			       sshdr.sense_key, sshdr.asc, sshdr.ascq,
			       log->sense_len, hex);
	}
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(sim_lld_cmd_render);

static ssize_t sim_cmd_read(struct file *file, char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	struct sim_fd *fd = file->private_data;
	struct sim_lld_cmd *sc;
	ssize_t ret;
	size_t size;

	mutex_lock(&fd->lock);
	sc = fd->cur;
	if (*ppos == 0) {
		kvfree(fd->text);
		fd->text = NULL;
		fd->text_len = 0;
		if (fd->summary)
			size = 128;
		else if (sc)
			size = sim_lld_cmd_render_size(sc);
		else
			size = 0;
		if (size) {
			fd->text = kvmalloc(size, GFP_KERNEL);
			if (!fd->text) {
				ret = -ENOMEM;
				goto out;
			}
		}
		if (fd->summary)
			fd->text_len = scnprintf(fd->text, size,
						 SIM_LLD_WAITALL_FMT,
						 fd->waited, fd->ok,
						 fd->failed,
						 fd->still_pending);
		else if (sc)
			fd->text_len = sim_lld_cmd_render(sc, fd->text, size);
	}
	ret = simple_read_from_buffer(ubuf, count, ppos, fd->text,
				      fd->text_len);
out:
	mutex_unlock(&fd->lock);
	return ret;
}

static const struct file_operations sim_cmd_fops = {
	.owner = THIS_MODULE,
	.open = sim_cmd_open,
	.read = sim_cmd_read,
	.write = sim_cmd_write,
	.release = sim_cmd_release_file,
	.llseek = default_llseek,
};

void sim_lld_debugfs_add_host(struct sim_lld_host *sh)
{
	struct dentry *d;
	char name[16];
	int k;

	snprintf(name, sizeof(name), "host%u", sh->index);
	d = debugfs_create_dir(name, sim_debugfs_root);
	sh->dir = d;
	for (k = 0; k < SIM_LLD_NR_KNOBS; k++) {
		sh->knob_files[k].sh = sh;
		sh->knob_files[k].knob = k;
		debugfs_create_file(sim_lld_knobs[k].name, 0600, d,
				    &sh->knob_files[k], &sim_knob_fops);
	}
	debugfs_create_file(SIM_LLD_F_LIMITS, 0600, d, sh, &sim_limits_fops);
	debugfs_create_file(SIM_LLD_F_COMPLETION, 0600, d, sh,
			    &sim_completion_fops);
	debugfs_create_u32(SIM_LLD_F_COMPLETION_DELAY, 0600, d, &sh->delay_ns);
	debugfs_create_bool(SIM_LLD_F_COPY, 0600, d, &sh->copy);
	debugfs_create_file(SIM_LLD_F_FAULT, 0600, d, sh, &sim_fault_fops);
	debugfs_create_file(SIM_LLD_F_SENSE, 0600, d, sh, &sim_sense_fops);
	debugfs_create_file(SIM_LLD_F_CMD, 0600, d, sh, &sim_cmd_fops);
	debugfs_create_file(SIM_LLD_F_COUNTERS, 0600, d, sh,
			    &sim_counters_fops);
	debugfs_create_file(SIM_LLD_F_HOST_NO, 0400, d, sh, &sim_host_no_fops);
}

static int sim_add_host_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%u\n", sim_lld_nr_hosts());
	return 0;
}

static ssize_t sim_add_host_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct sim_lld_host *sh;
	char *buf;
	int n, ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = kstrtoint(buf, 0, &n);
	kfree(buf);
	if (ret || n < -SIM_LLD_MAX_HOSTS || n > SIM_LLD_MAX_HOSTS) {
		pr_err("add_host: expected a count in [-%d, %d]\n",
		       SIM_LLD_MAX_HOSTS, SIM_LLD_MAX_HOSTS);
		return -EINVAL;
	}
	for (; n > 0; n--) {
		sh = sim_lld_host_add(NULL);
		if (IS_ERR(sh))
			return PTR_ERR(sh);
	}
	for (; n < 0; n++) {
		ret = sim_lld_remove_host_by_index(-1);
		if (ret)
			return ret;
	}
	return count;
}

DEFINE_SHOW_STORE_ATTRIBUTE(sim_add_host);

static ssize_t sim_remove_host_write(struct file *file,
				     const char __user *ubuf, size_t count,
				     loff_t *ppos)
{
	unsigned int idx;
	char *buf;
	int ret;

	buf = sim_get_user_text(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	ret = kstrtouint(buf, 0, &idx);
	kfree(buf);
	if (ret || idx >= SIM_LLD_MAX_HOSTS) {
		pr_err("remove_host: expected a host index\n");
		return -EINVAL;
	}
	ret = sim_lld_remove_host_by_index(idx);
	return ret ?: count;
}

static const struct file_operations sim_remove_host_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = sim_remove_host_write,
	.llseek = default_llseek,
};

static int sim_hosts_show(struct seq_file *m, void *v)
{
	struct sim_lld_host *sh;

	mutex_lock(&sim_lld_hosts_lock);
	list_for_each_entry(sh, &sim_lld_hosts, list) {
		mutex_lock(&sh->cfg_mutex);
		if (sh->shost)
			seq_printf(m, "%u %u\n", sh->index,
				   sh->shost->host_no);
		mutex_unlock(&sh->cfg_mutex);
	}
	mutex_unlock(&sim_lld_hosts_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(sim_hosts);

void sim_lld_debugfs_remove_host(struct sim_lld_host *sh)
{
	debugfs_remove(sh->dir);
	sh->dir = NULL;
}

void sim_lld_debugfs_init(void)
{
	sim_debugfs_root = debugfs_create_dir("sim_lld", NULL);
	debugfs_create_file(SIM_LLD_F_ADD_HOST, 0600, sim_debugfs_root, NULL,
			    &sim_add_host_fops);
	debugfs_create_file(SIM_LLD_F_REMOVE_HOST, 0200, sim_debugfs_root,
			    NULL, &sim_remove_host_fops);
	debugfs_create_file(SIM_LLD_F_HOSTS, 0400, sim_debugfs_root, NULL,
			    &sim_hosts_fops);
#ifdef CONFIG_FAULT_INJECTION_DEBUG_FS
	fault_create_debugfs_attr("fail_transfer", sim_debugfs_root,
				  &sim_lld_fail_transfer);
#endif
}

void sim_lld_debugfs_exit(void)
{
	debugfs_remove(sim_debugfs_root);
}
