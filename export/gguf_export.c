// gguf_export.c: a bn_model -> one GGUF file (llama.cpp / bitnet.cpp naming, ternary linears packed).
#include <stdlib.h>

#include "autograd/ag.h"
#include "export/export.h"

int ex_write_gguf(const bn_model *m, const tok_tokenizer *tok, const ex_gguf_opts *o, const char *path,
                  const char *what, tr_err *err) {
    const bn_config *c = &m->cfg;
    if (ex_check_dims(c, o->type, o->embed, what, err)) return -1;
    gguf_writer *w = gguf_writer_init();
    ex_gguf_meta(w, c, o->type, o->name);
    if (tok && ex_gguf_tokenizer(w, tok, c->vocab_size, o->add_bos, what, err)) {
        gguf_writer_free(w);
        return -1;
    }
    ex_tensor *plan;
    int n = ex_plan(&plan, c);
    void **bufs = tr_calloc((size_t)n, sizeof(void *));   // packed data, alive until the write
    size_t max_lin = 0;
    for (int i = 0; i < n; i++)
        if (plan[i].kind == EX_T_LINEAR && (size_t)plan[i].rows * plan[i].cols > max_lin)
            max_lin = (size_t)plan[i].rows * plan[i].cols;
    int8_t *t = tr_malloc(max_lin + 1);
    for (int i = 0; i < n; i++) {
        const ex_tensor *p = &plan[i];
        const float *x = ex_param(m, p);
        int64_t ne[2] = {p->cols, p->rows};
        if (p->kind == EX_T_NORM) {
            gguf_add_tensor(w, p->name, GGUF_TYPE_F32, 1, ne, x);
        } else if (p->kind == EX_T_LINEAR) {
            float scale = ag_ternarize(t, x, (size_t)p->rows * p->cols, m->ternary);
            bufs[i] = tr_malloc(ex_linear_nbytes(o->type, p->rows, p->cols));
            ex_pack_linear(bufs[i], o->type, t, p->rows, p->cols, scale);
            gguf_add_tensor(w, p->name, ex_type_ggml(o->type), 2, ne, bufs[i]);
        } else {
            bufs[i] = tr_malloc(ex_embed_nbytes(o->embed, p->rows, p->cols));
            ex_pack_embed(bufs[i], o->embed, x, p->rows, p->cols);
            gguf_add_tensor(w, p->name, o->embed, 2, ne, bufs[i]);
        }
    }
    free(t);
    int rc = gguf_writer_write(w, path, err);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(plan);
    gguf_writer_free(w);
    return rc;
}
