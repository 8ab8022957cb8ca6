/*
 * image_fixture.h - what the engine's unit tests that take shard images
 * share: a shard loaded from an image, and the check that a shard writes
 * exactly a given image (snapshots are byte-identical across restores).
 * Include after cmocka.h.
 */
#ifndef LS_TEST_IMAGE_FIXTURE_H
#define LS_TEST_IMAGE_FIXTURE_H

#include "leadscore/ls_buf.h"
#include "leadscore/ls_engine.h"

/* @returns a shard of @p ms loaded from @p img; fails the test when it
 * does not load. */
static ls_shard_t *fx_image_load(const ls_modelset_t *ms, const ls_buf_t *img) {
        char err[512];
        ls_shard_t *sh =
                ls_shard_load(ms, img->data, img->len, err, sizeof(err));

        if (!sh)
                fail_msg("load: %s", err);
        return sh;
}

/* Fails the test unless @p sh writes @p img, byte for byte. */
static void fx_image_expect(const ls_shard_t *sh, const ls_buf_t *img) {
        ls_buf_t again;

        ls_buf_init(&again);
        assert_int_equal(ls_shard_save(sh, &again), LS_OK);
        assert_int_equal(again.len, img->len);
        assert_memory_equal(again.data, img->data, img->len);
        ls_buf_free(&again);
}

#endif /* LS_TEST_IMAGE_FIXTURE_H */
