// test_train_config.c: run config defaults, path resolution and the schedule keys (the one-line errors for
// every missing or wrong-typed key are checked through the CLI in tests/e2e_train.sh).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/harness.h"
#include "train/run_config.h"

static const char *write_config(const char *name, const char *text) {
    const char *p = t_tmp(name);
    t_write_file(p, text, strlen(text));
    return p;
}

static void test_defaults(void) {
    mkdir(t_tmp("cfg"), 0777);
    write_config("cfg/model.json", "{\"vocab_size\": 259, \"hidden_size\": 128, \"intermediate_size\": 344, "
                                   "\"num_hidden_layers\": 4, \"num_attention_heads\": 4, \"hidden_act\": \"relu2\", "
                                   "\"max_position_embeddings\": 64}");
    const char *p = write_config("cfg/run.json", "{\"model\": \"model.json\", \"data\": \"../shards\", \"out_dir\": \"/abs/run\","
                                                 " \"tokenizer\": \"llama3\", \"steps\": 2000, \"batch_size\": 12,"
                                                 " \"seq_len\": 64, \"lr\": 1e-3, \"_comment\": \"ignored\"}");
    runcfg c;
    tr_err err;
    int rc = runcfg_load(&c, p, NULL, &err);
    t_check(rc == 0, "a minimal config loads", "%s", err.msg);
    if (rc) return;
    char want[600];
    snprintf(want, sizeof(want), "%s/shards", t_tmpdir());
    t_check(!strcmp(c.data, want) && !strcmp(c.out_dir, "/abs/run") && !strcmp(c.tokenizer, "llama3"),
            "paths relative to the config's folder (cleaned: cfg/../shards); absolute kept; tokenizer \"llama3\" kept", "%s %s %s", c.data, c.out_dir,
            c.tokenizer);
    t_check(c.model.vocab_size == 259 && c.model.n_layers == 4 && c.model.head_dim == 32, "model config from a path",
            "vocab %d", c.model.vocab_size);
    t_check(c.sched.type == SCHED_COSINE && c.sched.warmup == 0 && fabs(c.sched.min_lr - 1e-4) < 1e-15 &&
                c.sched.weight_decay == 0.1 && c.sched.steps == 2000,
            "schedule defaults: cosine, no warmup, min_lr lr/10, weight decay 0.1", "type %d min %g", (int)c.sched.type,
            c.sched.min_lr);
    t_check(c.beta1 == 0.9 && c.beta2 == 0.95 && c.eps == 1e-8 && c.clip == 1.0 && c.init_std == 0.02 &&
                !c.decay_norms && c.decay_embeddings,
            "optimizer defaults: betas (0.9, 0.95), eps 1e-8, clip 1, init 0.02, decay on embeddings, not norms", "betas %g %g", c.beta1, c.beta2);
    t_check(c.grad_accum == 1 && c.seed == 1337 && c.threads == 0 && c.eval_every == 0 && c.eval_batches == 200 &&
                c.ckpt_every == 0 && c.keep_checkpoints == 3,
            "run defaults: accum 1, seed 1337, eval at the end over 200 batches, keep 3", "accum %d seed %llu", c.grad_accum, (unsigned long long)c.seed);
    runcfg_free(&c);
    rc = runcfg_load(&c, p, "other/out", &err);
    t_check(rc == 0 && !strcmp(c.out_dir, "other/out"), "--out overrides out_dir as given", "%s", rc ? err.msg : c.out_dir);
    runcfg_free(&c);
}

static void test_bitnet_schedule(void) {
    const char *p = write_config("bitnet.json",
                                 "{\"model\": {\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 48, "
                                 "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"hidden_act\": \"relu2\"}, "
                                 "\"data\": \"d\", \"out_dir\": \"o\", \"steps\": 1000, \"batch_size\": 2, \"seq_len\": 8,"
                                 " \"lr\": 1.5e-3, \"schedule\": \"bitnet\", \"warmup_steps\": 375, \"min_lr\": 0}");
    runcfg c;
    tr_err err;
    int rc = runcfg_load(&c, p, NULL, &err);
    t_check(rc == 0 && c.sched.type == SCHED_BITNET && fabs(c.sched.lr_stage2 - 1e-3) < 1e-15 &&
                c.sched.stage2_start == 0.5 && c.sched.decay == SCHED_LINEAR,
            "bitnet defaults: lr_stage2 = 2/3 lr (1.5e-3 -> 1e-3), stage 2 at 0.5, linear decay", "%s", rc ? err.msg : "");
    t_check(rc == 0 && c.model.max_pos == 2048, "inline model object", "max_pos %d", c.model.max_pos);
    runcfg_free(&c);
    p = write_config("bitnet2.json",
                     "{\"model\": {\"vocab_size\": 64, \"hidden_size\": 32, \"intermediate_size\": 48, "
                     "\"num_hidden_layers\": 1, \"num_attention_heads\": 2, \"hidden_act\": \"relu2\"}, "
                     "\"data\": \"d\", \"out_dir\": \"o\", \"steps\": 1000, \"batch_size\": 2, \"seq_len\": 8,"
                     " \"lr\": 1e-3, \"schedule\": \"bitnet\", \"warmup_steps\": 600}");
    rc = runcfg_load(&c, p, NULL, &err);
    t_check(rc == -1 && strstr(err.msg, "bitnet2.json: stage 2 starts at step 500, inside the 600 warmup steps"),
            "bitnet stage 2 inside the warmup refused", "%s", err.msg);
}

int main(void) {
    test_defaults();
    test_bitnet_schedule();
    return t_done();
}
