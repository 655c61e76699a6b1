// SPDX-License-Identifier: GPL-2.0
/*
 * tgt_chunk_model.c - the model of tgt_chunk_model.h, shared by the KUnit
 * suite tgt_cmd_offsets and the kselftests.
 */
#include "tgt_chunk_model.h"

int tgt_model_chunks(const struct tgt_model_piece *pieces,
		     unsigned int nr_pieces,
		     const struct tgt_model_limits *lim,
		     struct tgt_model_chunk *chunks, unsigned int max_chunks,
		     struct tgt_model_seg *segs, unsigned int max_segs,
		     unsigned int *nr_segs)
{
	unsigned long long max_bytes = lim->max_sectors * 512ULL;
	unsigned long long mask = lim->dma_boundary;
	unsigned long long seg_addr = 0;
	unsigned int i = 0, done = 0, off = 0, total_segs = 0;
	int nr_chunks = 0;

	while (i < nr_pieces) {
		unsigned long long chunk = 0;
		unsigned int nsegs = 0, seg_len = 0, first_seg = total_segs;

		while (i < nr_pieces) {
			unsigned long long addr = pieces[i].addr + done;
			unsigned int len = pieces[i].len - done;

			if (len > lim->max_segment_size)
				len = lim->max_segment_size;
			if (chunk + len > max_bytes)
				break;
			if (nsegs && seg_addr + seg_len == addr &&
			    (seg_addr | mask) == ((addr + len - 1) | mask) &&
			    len <= lim->max_segment_size - seg_len) {
				seg_len += len;
			} else {
				if (nsegs >= lim->sg_tablesize)
					break;
				nsegs++;
				total_segs++;
				seg_addr = addr;
				seg_len = len;
			}
			if (total_segs <= max_segs) {
				segs[total_segs - 1].addr = seg_addr;
				segs[total_segs - 1].len = seg_len;
			}
			chunk += len;
			done += len;
			if (done == pieces[i].len) {
				done = 0;
				i++;
			}
		}
		if (!chunk)
			return -1;
		if ((unsigned int)nr_chunks < max_chunks) {
			chunks[nr_chunks].off = off;
			chunks[nr_chunks].len = chunk;
			chunks[nr_chunks].nsegs = nsegs;
			chunks[nr_chunks].first_seg = first_seg;
		}
		off += chunk;
		nr_chunks++;
	}
	if (nr_segs)
		*nr_segs = total_segs;
	return nr_chunks;
}
