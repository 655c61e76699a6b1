// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs from a KUnit case: files of the fault injection and kmemleak
 * are only reachable through debugfs, which a KUnit boot does not mount,
 * and their handlers copy from and to user memory. A case mounts debugfs
 * internally and goes through a buffer mapped into its thread with
 * kunit_vm_mmap().
 */
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/sched/mm.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <kunit/test.h>

#include "tgt_test.h"

static void tgt_debugfs_umount(void *data)
{
	mntput(data);
}

/**
 * tgt_debugfs_mount - mount debugfs for @test, unmounted at its end
 * @test: the test
 * @bufsize: size of the user buffer for reads and writes
 *
 * Return: the mount (the test fails if it cannot be made).
 */
struct tgt_debugfs *tgt_debugfs_mount(struct kunit *test, size_t bufsize)
{
	struct file_system_type *fs;
	struct tgt_debugfs *d;
	unsigned long addr;
	int ret;

	d = kunit_kzalloc(test, sizeof(*d), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, d);
	d->own_mm = !current->mm;
	addr = kunit_vm_mmap(test, NULL, 0, bufsize, PROT_READ | PROT_WRITE,
			     MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "no user buffer");
	d->ubuf = (char __user *)addr;
	d->bufsize = bufsize;

	fs = get_fs_type("debugfs");
	KUNIT_ASSERT_NOT_NULL(test, fs);
	d->mnt = vfs_kern_mount(fs, 0, "debugfs", NULL);
	module_put(fs->owner);
	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(d->mnt), "cannot mount debugfs: %ld",
			       PTR_ERR(d->mnt));
	ret = kunit_add_action_or_reset(test, tgt_debugfs_umount, d->mnt);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return d;
}

/**
 * tgt_debugfs_done - give back the mm of the user buffer
 * @d: the mount of tgt_debugfs_mount()
 *
 * Called by the case itself (its thread) when it no longer needs @d.
 * kunit_vm_mmap() attaches an mm to the case's kthread with
 * kthread_use_mm() and leaves it to the kthread's exit, which drops the
 * mm's users but not the reference kthread_use_mm() took: without this
 * call kmemleak reports one mm_struct per case (allocated by mm_alloc()).
 */
void tgt_debugfs_done(struct tgt_debugfs *d)
{
	struct mm_struct *mm = current->mm;

	if (!d->own_mm || !mm)
		return;
	d->own_mm = false;
	d->ubuf = NULL;
	kthread_unuse_mm(mm);
	mmput(mm);
}

/* open @path of debugfs; the test fails if it cannot be opened */
struct file *tgt_debugfs_open(struct kunit *test, struct tgt_debugfs *d,
			      const char *path, int flags)
{
	struct file *f = file_open_root_mnt(d->mnt, path, flags, 0);

	KUNIT_ASSERT_FALSE_MSG(test, IS_ERR(f), "cannot open %s in debugfs: %ld",
			       path, PTR_ERR(f));
	return f;
}

/* write @text to @path of debugfs; the test fails if it is not taken */
void tgt_debugfs_write(struct kunit *test, struct tgt_debugfs *d,
		       const char *path, const char *text)
{
	size_t len = strlen(text);
	struct file *f;
	loff_t pos = 0;
	ssize_t ret;

	KUNIT_ASSERT_LT(test, len, d->bufsize);
	KUNIT_ASSERT_EQ(test, copy_to_user(d->ubuf, text, len), 0);
	f = tgt_debugfs_open(test, d, path, O_WRONLY);
	ret = vfs_write(f, d->ubuf, len, &pos);
	fput(f);
	KUNIT_ASSERT_EQ_MSG(test, ret, (ssize_t)len, "writing \"%s\" to %s: %zd",
			    text, path, ret);
}

/*
 * Read up to @len - 1 bytes of @path of debugfs into @buf, a string then.
 * Return: the bytes read.
 */
size_t tgt_debugfs_read(struct kunit *test, struct tgt_debugfs *d,
			const char *path, char *buf, size_t len)
{
	struct file *f = tgt_debugfs_open(test, d, path, O_RDONLY);
	loff_t pos = 0;
	ssize_t n;

	n = vfs_read(f, d->ubuf, min(len - 1, d->bufsize), &pos);
	fput(f);
	KUNIT_ASSERT_GE_MSG(test, n, 0, "reading %s: %zd", path, n);
	KUNIT_ASSERT_EQ(test, copy_from_user(buf, d->ubuf, n), 0);
	buf[n] = '\0';
	return n;
}
