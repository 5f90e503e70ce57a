/*
 * cmd_list.c: `tqrun list`: what the runtime found and why it did or did not load it,
 * every device with its memory, features, default kernel variant and score, and the DRM
 * render nodes the kernel exposes.
 */
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "tqrun.h"

static const char help[] =
    "usage: tqrun list [--plugin-path DIRS] [--json FILE]\n"
    "\n"
    "Prints the plugin search path, every manifest found (loaded, or why not), the loaded\n"
    "backends and their devices (name, type, driver, stable id, memory, features, default\n"
    "kernel variant, score and a note on why it is or is not chosen automatically), and\n"
    "the DRM render nodes listed by libdrm.\n"
    "\n"
    "Each plugin is first loaded in a child process: one whose init crashes or hangs is\n"
    "listed as \"crashed (signal N)\" or \"hung: killed after N s\" and not loaded, and\n"
    "the others are listed normally. TQ_PROBE_TIMEOUT=S sets the limit (default 10 s;\n"
    "0 turns probing off).\n"
    "\n"
    "examples:\n"
    "  tqrun list\n"
    "  TQ_PLUGIN_PATH=/opt/tq/plugins tqrun list --json list.json\n";

static const tr_optspec spec[] = { { NULL, 0, false, 0 } };

int tr_cmd_list(int argc, char **argv)
{
    tr_common c;
    memset(&c, 0, sizeof c);
    tr_parser p;
    tr_parser_init(&p, "list", argc, argv);
    const char *arg;
    int id;
    while ((id = tr_opt_next(&p, spec, &c, &arg)) != TR_OPT_END) {
        if (id == TR_OPT_HELP) {
            fputs(help, stdout);
            return TR_EXIT_OK;
        }
        return TR_EXIT_USAGE;
    }
    tr_probe_set probes;
    tq_runtime *rt = NULL;
    if (!tr_probe_plugins(&c, &probes) || !tr_probe_runtime_open(&c, &probes, &rt)) {
        tr_probe_free(&probes);
        return TR_EXIT_ENV;
    }
    cJSON *doc = c.json_path ? tr_json_doc_new("list") : NULL;

    const char *sp = tq_runtime_search_path(rt);
    printf("plugin search path (in order):\n");
    for (const char *q = sp; q && *q;) {
        size_t len = strcspn(q, ":");
        printf("  %.*s\n", (int)len, q);
        q += len;
        if (*q == ':')
            q++;
    }
    if (doc)
        cJSON_AddStringToObject(doc, "search_path", sp ? sp : "");

    printf("\nmanifests:\n");
    static const char *const mh[] = { "name", "loaded", "abi", "priority", "manifest",
                                      "library / reason" };
    tr_table *mt = tr_table_new(6, mh);
    cJSON *plugins = doc ? cJSON_AddArrayToObject(doc, "plugins") : NULL;
    for (uint32_t i = 0; i < tq_runtime_plugin_count(rt); i++) {
        const tq_plugin_report *r = tq_runtime_plugin_report(rt, i);
        if (!r)
            continue;
        char abi[32], prio[16];
        snprintf(abi, sizeof abi, r->abi_major ? "%u.%u" : "-", r->abi_major, r->abi_minor);
        snprintf(prio, sizeof prio, "%d", r->priority);
        /* Left out because its probe failed: say why, not "not in only_backends". */
        const tr_probe *bad = r->loaded ? NULL : tr_probe_failure(&probes, r->name);
        const char *why = bad ? bad->reason : r->message;
        const char *row[] = { r->name && *r->name ? r->name : "?", r->loaded ? "yes" : "NO",
                              abi, prio, r->manifest_path,
                              r->loaded ? r->library_path : why };
        tr_table_row(mt, row);
        if (plugins) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", r->name ? r->name : "");
            cJSON_AddBoolToObject(o, "loaded", r->loaded);
            cJSON_AddStringToObject(o, "manifest", r->manifest_path ? r->manifest_path : "");
            cJSON_AddStringToObject(o, "library", r->library_path ? r->library_path : "");
            cJSON_AddNumberToObject(o, "priority", r->priority);
            cJSON_AddNumberToObject(o, "abi_major", r->abi_major);
            cJSON_AddNumberToObject(o, "abi_minor", r->abi_minor);
            cJSON_AddStringToObject(o, "message", why ? why : "");
            cJSON_AddItemToArray(plugins, o);
        }
    }
    if (tr_table_rows(mt))
        tr_table_print(mt, stdout);
    else
        printf("  none found\n");
    tr_table_free(mt);

    printf("\nbackends and devices:\n");
    static const char *const dh[] = { "backend", "#", "device", "type", "driver", "memory",
                                      "score", "variant", "id" };
    tr_table *dt = tr_table_new(9, dh);
    uint32_t nb = tq_runtime_backend_count(rt);
    for (uint32_t b = 0; b < nb; b++) {
        tq_backend *be = tq_runtime_backend_get(rt, b);
        uint32_t nd = tq_backend_device_count(be);
        if (nd == 0) {
            const char *row[] = { tq_backend_name(be), "-", "(no devices)", "", "", "", "",
                                  "", "" };
            tr_table_row(dt, row);
        }
        for (uint32_t d = 0; d < nd; d++) {
            tr_target t;
            memset(&t, 0, sizeof t);
            t.backend = be;
            t.device = d;
            t.info.struct_size = sizeof t.info;
            tq_status st = tq_backend_device_info(be, d, &t.info);
            if (st) {
                fprintf(stderr, "tqrun: %s device %u: %s\n", tq_backend_name(be), d,
                        tq_status_message(st));
                tq_status_free(st);
                continue;
            }
            char idx[16], mem[64], tot[32], fr[32], score[16];
            snprintf(idx, sizeof idx, "%u", d);
            if (t.info.memory_total)
                snprintf(mem, sizeof mem, "%s (%s free)",
                         tr_fmt_bytes(t.info.memory_total, tot, sizeof tot),
                         t.info.memory_free ? tr_fmt_bytes(t.info.memory_free, fr, sizeof fr)
                                            : "?");
            else
                snprintf(mem, sizeof mem, "unknown");
            snprintf(score, sizeof score, "%d", t.info.score);
            const char *row[] = { tq_backend_name(be), idx, t.info.name,
                                  tq_device_type_name(t.info.type), t.info.driver, mem, score,
                                  t.info.default_variant, t.info.id };
            tr_table_row(dt, row);
            if (doc) {
                cJSON *rec = tr_json_record_new(doc, &t, t.info.default_variant, "device");
                cJSON_AddNumberToObject(rec, "device_index", d);
                cJSON_AddNumberToObject(rec, "memory_total", (double)t.info.memory_total);
                cJSON_AddNumberToObject(rec, "memory_free", (double)t.info.memory_free);
                cJSON_AddNumberToObject(rec, "compute_units", t.info.compute_units);
                cJSON_AddNumberToObject(rec, "score", t.info.score);
                cJSON_AddStringToObject(rec, "features", t.info.features);
                cJSON_AddStringToObject(rec, "note", t.info.note);
                cJSON_AddStringToObject(rec, "library", tq_backend_library(be));
            }
        }
    }
    tr_table_print(dt, stdout);
    tr_table_free(dt);
    /* Features and notes are long: one line each under the table. */
    for (uint32_t b = 0; b < nb; b++) {
        tq_backend *be = tq_runtime_backend_get(rt, b);
        for (uint32_t d = 0; d < tq_backend_device_count(be); d++) {
            tq_device_info info;
            memset(&info, 0, sizeof info);
            info.struct_size = sizeof info;
            tq_status st = tq_backend_device_info(be, d, &info);
            if (st) {
                tq_status_free(st);
                continue;
            }
            printf("  %s/%u %s: %u compute units; features: %s\n      note: %s\n",
                   tq_backend_name(be), d, info.name, info.compute_units,
                   info.features[0] ? info.features : "-", info.note[0] ? info.note : "-");
        }
    }

    printf("\nDRM render nodes (libdrm):\n");
    static const char *const rh[] = { "node", "bus", "pci id", "kernel driver" };
    tr_table *rtab = tr_table_new(4, rh);
    cJSON *drm = doc ? cJSON_AddArrayToObject(doc, "drm_render_nodes") : NULL;
    int nr = tr_drm_list(rtab, drm);
    if (nr > 0)
        tr_table_print(rtab, stdout);
    else
        printf("  no DRM render nodes%s\n", nr < 0 ? " (no /dev/dri or no access)" : "");
    tr_table_free(rtab);

    int rc = TR_EXIT_OK;
    if (doc && !tr_json_write(doc, c.json_path))
        rc = TR_EXIT_ENV;
    cJSON_Delete(doc);
    tq_runtime_destroy(rt);
    tr_probe_free(&probes);
    return rc;
}
