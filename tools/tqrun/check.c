/*
 * check.c: runs every case of the check set on a backend and on `ref` with the same
 * inputs (check_ops.c), and reports each verdict as a table row and a JSON record.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_cases.h"

static void shape_json(cJSON *rec, const ck_case *c)
{
    cJSON *s = cJSON_AddObjectToObject(rec, "shape");
    cJSON *t = cJSON_AddObjectToObject(rec, "types");
    cJSON_AddNumberToObject(s, "d", (double)c->d);
    switch (c->op) {
    case CK_QUANTIZE:
        cJSON_AddNumberToObject(s, "n_kv_head", (double)c->n_kv_head);
        cJSON_AddNumberToObject(s, "n_tokens", (double)c->n_tokens);
        cJSON_AddNumberToObject(s, "n_seq", (double)c->n_seq);
        cJSON_AddStringToObject(t, "src", tq_type_name(c->type_src));
        cJSON_AddStringToObject(t, "dst", tq_type_name(c->type));
        break;
    case CK_DEQUANTIZE:
        cJSON_AddNumberToObject(s, "rows", (double)c->n_rows);
        cJSON_AddBoolToObject(s, "inverse_rotation", c->inverse);
        cJSON_AddStringToObject(t, "src", tq_type_name(c->type));
        cJSON_AddStringToObject(t, "dst", "f32");
        break;
    case CK_ROTATE:
        cJSON_AddNumberToObject(s, "rows", (double)c->n_rows);
        cJSON_AddBoolToObject(s, "inverse", c->inverse);
        cJSON_AddBoolToObject(s, "in_place", c->in_place);
        cJSON_AddStringToObject(t, "src", "f32");
        cJSON_AddStringToObject(t, "dst", "f32");
        break;
    default:
        cJSON_AddNumberToObject(s, "n_head", (double)c->n_head);
        cJSON_AddNumberToObject(s, "n_kv_head", (double)c->n_kv_head);
        cJSON_AddNumberToObject(s, "n_q", (double)c->n_q);
        cJSON_AddNumberToObject(s, "n_kv", (double)c->n_kv);
        cJSON_AddNumberToObject(s, "n_seq", (double)c->n_seq);
        cJSON_AddBoolToObject(s, "causal", c->causal);
        cJSON_AddNumberToObject(s, "q_pos0", (double)c->q_pos0);
        cJSON_AddNumberToObject(s, "softcap", (double)c->softcap);
        cJSON_AddStringToObject(t, "k", tq_type_name(c->type_k));
        cJSON_AddStringToObject(t, "v", tq_type_name(c->type_v));
        break;
    }
}

bool tr_check_target(const tr_target *t, const char *ctx_options, const tr_target *ref,
                     const tr_check_opts *o, tr_table *table, cJSON *doc,
                     tr_check_summary *out)
{
    memset(out, 0, sizeof *out);
    tq_context *ctx = NULL, *rctx = NULL;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "%s: cannot create a context on '%s'",
             tq_backend_name(t->backend), t->info.name);
    if (tr_report(prefix, tq_context_create(t->backend, t->device, ctx_options, &ctx)))
        return false;
    if (tr_report("ref: cannot create a context", tq_context_create(ref->backend, ref->device,
                                                                    NULL, &rctx))) {
        tq_context_destroy(ctx);
        return false;
    }
    ck_case_list cases;
    ck_cases_build(o, &cases);
    const char *bname = tq_backend_name(t->backend);
    for (int i = 0; i < cases.n; i++) {
        const ck_case *c = &cases.v[i];
        ck_verdict v;
        tr_progress("check %s: %d/%d %s", bname, i + 1, cases.n, ck_op_name(c->op));
        if (o->verbose && c->op == CK_QUANTIZE) {
            char ty[64], sh[128];
            ck_case_types(c, ty, sizeof ty);
            ck_case_shape(c, sh, sizeof sh);
            fprintf(stderr, "  %s quantize %s %s:\n", bname, ty, sh);
        }
        ck_compare_details(o->verbose ? 8 : 0);
        ck_run_case(ctx, rctx, c, o->seed, &v);
        ck_compare_details(0);
        out->total++;
        if (v.skipped)
            out->skipped++;
        else if (v.pass)
            out->passed++;
        else
            out->failed++;
        if (v.variant[0])
            snprintf(out->variant, sizeof out->variant, "%s", v.variant);

        char types[64], shape[128], value[64], limit[32], metric[96];
        ck_case_types(c, types, sizeof types);
        ck_case_shape(c, shape, sizeof shape);
        const char *verdict = v.skipped ? "SKIP" : v.pass ? "pass" : "FAIL";
        snprintf(metric, sizeof metric, "%s", v.metric);
        snprintf(value, sizeof value, "%.3g", v.value);
        snprintf(limit, sizeof limit, "%.3g", v.limit);
        if (v.guard_damage) {
            snprintf(metric, sizeof metric, "guard bytes");
            snprintf(value, sizeof value, "%llu", (unsigned long long)v.guard_damage);
            snprintf(limit, sizeof limit, "0");
        } else if (v.nonfinite) {
            snprintf(metric, sizeof metric, "nan/inf");
            snprintf(value, sizeof value, "%llu", (unsigned long long)v.nonfinite);
            snprintf(limit, sizeof limit, "0");
        } else if (v.reason[0]) {
            snprintf(value, sizeof value, "-");
            snprintf(limit, sizeof limit, "-");
        } else if (v.boundary) {
            snprintf(metric, sizeof metric, "%s (%llu at boundary)", v.metric,
                     (unsigned long long)v.boundary);
        }
        if (table && (!o->failures_only || (!v.pass && !v.skipped))) {
            const char *row[] = { bname, t->info.name, ck_op_name(c->op), types, shape, metric,
                                  value, limit, verdict, v.variant[0] ? v.variant : "-" };
            tr_table_row(table, row);
        }
        if (v.reason[0] && (!v.skipped || o->failures_only == false))
            fprintf(stderr, "%s %s %s %s: %s\n", bname, ck_op_name(c->op), types, shape,
                    v.reason);
        if (doc) {
            cJSON *rec = tr_json_record_new(doc, t, v.variant, ck_op_name(c->op));
            char name[256];
            snprintf(name, sizeof name, "%s %s", types, shape);
            cJSON_AddStringToObject(rec, "name", name);
            shape_json(rec, c);
            cJSON_AddNumberToObject(rec, "repeats", 1);
            tr_json_add_check(rec, v.metric, isfinite(v.value) ? v.value : 1e308, v.limit,
                              v.pass);
            cJSON *chk = cJSON_GetObjectItemCaseSensitive(rec, "check");
            cJSON_AddStringToObject(chk, "verdict", v.skipped ? "skip" : v.pass ? "pass" : "fail");
            cJSON_AddNumberToObject(chk, "guard_bytes_damaged", (double)v.guard_damage);
            cJSON_AddNumberToObject(chk, "nonfinite", (double)v.nonfinite);
            cJSON_AddNumberToObject(chk, "boundary_diffs", (double)v.boundary);
            if (v.reason[0])
                cJSON_AddStringToObject(chk, "reason", v.reason);
        }
    }
    tr_progress_done();
    ck_cases_free(&cases);
    tq_context_destroy(rctx);
    tq_context_destroy(ctx);
    return true;
}
