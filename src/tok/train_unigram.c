/*
 * train_unigram.c: unigram language-model training (placeholder).
 */
#include "tok/trainer.h"

lilm_status lilm__train_unigram(const lilm_tok_train_opts *o, const lilm__words *w,
                                const lilm_sp_normalizer_spec *ns, lilm_sp_model *model)
{
    (void)o; (void)w; (void)ns; (void)model;
    return lilm_errorf(LILM_ERR_UNSUPPORTED, "unigram training is not built yet");
}
