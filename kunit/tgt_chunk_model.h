/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tgt_chunk_model.h - the chunks the target core must cut a command into,
 * computed independently of the core from the 6.12 block-layer rules
 * (bio_add_hw_page() and blk_rq_map_sg()) and the buffer's physical
 * layout. Plain C: built into the KUnit module (kunit/) and linked into
 * the kselftests (selftests/), which both check the port against it.
 *
 * The buffer is given as its pieces in order, each inside one page: a
 * chunk grows piece by piece (a piece longer than max_segment_size is
 * taken in max_segment_size steps); a piece that would make the chunk
 * longer than max_sectors * 512 bytes ends the chunk; a piece joins the
 * previous segment if it is physically contiguous with it, lies in the
 * same (dma_boundary + 1)-aligned window and the segment stays within
 * max_segment_size; otherwise it starts a new segment, which ends the
 * chunk if the chunk has sg_tablesize segments already.
 */
#ifndef _TGT_CHUNK_MODEL_H
#define _TGT_CHUNK_MODEL_H

struct tgt_model_limits {
	unsigned int max_sectors;
	unsigned int sg_tablesize;
	unsigned int max_segment_size;
	unsigned long long dma_boundary;
};

/* a piece of the buffer, inside one page */
struct tgt_model_piece {
	unsigned long long addr;	/* physical address */
	unsigned int len;
};

struct tgt_model_chunk {
	unsigned int off;		/* bytes of the buffer before it */
	unsigned int len;
	unsigned int nsegs;
	unsigned int first_seg;		/* its first segment in segs[] */
};

struct tgt_model_seg {
	unsigned long long addr;
	unsigned int len;
};

/*
 * Cut @nr_pieces pieces into chunks. The first @max_chunks chunks are
 * stored in @chunks and the first @max_segs segments in @segs (either may
 * be NULL with a max of 0); *@nr_segs (if not NULL) gets the number of
 * segments of all chunks.
 *
 * Return: the number of chunks (also those not stored), or -1 if a piece
 * fits into no chunk (limits no 6.12 queue accepts).
 */
int tgt_model_chunks(const struct tgt_model_piece *pieces,
		     unsigned int nr_pieces,
		     const struct tgt_model_limits *lim,
		     struct tgt_model_chunk *chunks, unsigned int max_chunks,
		     struct tgt_model_seg *segs, unsigned int max_segs,
		     unsigned int *nr_segs);

#endif /* _TGT_CHUNK_MODEL_H */
