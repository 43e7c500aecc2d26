/*
 * opts.c: the table-driven option parser behind every subcommand (opts.h).
 *
 * Parsing is two passes over one table: first every row's default text is
 * parsed into the caller's struct by set_value() (the same function that
 * parses command-line values, so a default can never break its own range),
 * then argv is walked left to right. Invariants: every failure is
 * LILM_ERR_ARG with one message that names the option as the user wrote it
 * and what would be accepted; nothing here allocates (LIST values point into
 * argv, ARGS values are gathered in argv's own front slots: the slot written
 * is never one still to be read); only lilm_opts_parse_cli prints.
 */
#include "cli/opts.h"

#include "core/config.h" /* lilm_config_parse_int/_float, lilm_config_edit_distance */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One parse: the table, the caller's struct, argv (ARGS values are moved to
 * argv[1..n_args]) and which rows were given. */
typedef struct parse_state {
    const lilm_opt_spec *spec;
    void *out;
    char **argv;
    int64_t n_args;
    unsigned char given[256];
} parse_state;

static lilm_opt_type row_type(const lilm_opt *o)
{
    return (lilm_opt_type)(o->type & LILM_OPT_TYPE_MASK);
}

static int is_positional(const lilm_opt *o)
{
    return (o->type & LILM_OPT_POSITIONAL) != 0 || row_type(o) == LILM_OPT_ARGS;
}

/* Rows an --option can name: options, and an ARGS row with LILM_OPT_AS_OPTION. */
static int is_named(const lilm_opt *o)
{
    return !is_positional(o) || (row_type(o) == LILM_OPT_ARGS && (o->type & LILM_OPT_AS_OPTION));
}

static int has_range(const lilm_opt *o)
{
    return !(o->min == 0 && o->max == 0);
}

/* The index of `text` among the '|'-separated values of `list`, or -1. */
static int choice_index(const char *list, const char *text)
{
    size_t tl = strlen(text);
    int i = 0;
    for (const char *p = list; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == tl && strncmp(p, text, len) == 0) return i;
        i++;
        p = bar ? bar + 1 : NULL;
    }
    return -1;
}

/* How the user names the row in messages: "--minutes" or "CONFIG". */
static void display_name(const lilm_opt *o, char *buf, size_t n)
{
    if (is_positional(o)) {
        size_t i = 0;
        for (; o->name[i] && i + 1 < n; i++)
            buf[i] = (o->name[i] >= 'a' && o->name[i] <= 'z') ? (char)(o->name[i] - 'a' + 'A') : o->name[i];
        buf[i] = '\0';
    } else {
        snprintf(buf, n, "--%s", o->name);
    }
}

static void range_text(const lilm_opt *o, char *buf, size_t n)
{
    if (has_range(o)) snprintf(buf, n, " in [%.15g, %.15g]", o->min, o->max);
    else buf[0] = '\0';
}

/* Parses `text` into the row's field. `who` is the display name; ps is the
 * parse (NULL while setting defaults, which ARGS rows do not have). */
static lilm_status set_value(parse_state *ps, const lilm_opt *o, const char *who, const char *text, void *out)
{
    char *field = (char *)out + o->offset;
    char range[128];
    range_text(o, range, sizeof range);
    switch (row_type(o)) {
    case LILM_OPT_INT: {
        int64_t x;
        if (!lilm_config_parse_int(text, &x))
            return lilm_errorf(LILM_ERR_ARG, "%s: must be an integer%s, got '%s'", who, range, text);
        if (has_range(o) && ((double)x < o->min || (double)x > o->max))
            return lilm_errorf(LILM_ERR_ARG, "%s: must be an integer%s, got %lld", who, range, (long long)x);
        memcpy(field, &x, sizeof x);
        return LILM_OK;
    }
    case LILM_OPT_FLOAT: {
        double v;
        if (!lilm_config_parse_float(text, &v))
            return lilm_errorf(LILM_ERR_ARG, "%s: must be a number%s, got '%s'", who, range, text);
        if (has_range(o) && (v < o->min || v > o->max))
            return lilm_errorf(LILM_ERR_ARG, "%s: must be a number%s, got %s", who, range, text);
        memcpy(field, &v, sizeof v);
        return LILM_OK;
    }
    case LILM_OPT_BOOL: {
        int v;
        if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || strcmp(text, "yes") == 0) v = 1;
        else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "no") == 0) v = 0;
        else return lilm_errorf(LILM_ERR_ARG, "%s: must be true or false, got '%s'", who, text);
        memcpy(field, &v, sizeof v);
        return LILM_OK;
    }
    case LILM_OPT_STRING:
        memcpy(field, &text, sizeof text);
        return LILM_OK;
    case LILM_OPT_CHOICE: {
        int i = choice_index(o->def ? o->def : "", text);
        if (i < 0)
            return lilm_errorf(LILM_ERR_ARG, "%s: must be one of %s, got '%s'", who, o->def ? o->def : "(none)", text);
        memcpy(field, &i, sizeof i);
        return LILM_OK;
    }
    case LILM_OPT_LIST: {
        lilm_opt_list *l = (lilm_opt_list *)(void *)field;
        if (l->n >= LILM_OPT_LIST_MAX)
            return lilm_errorf(LILM_ERR_ARG, "%s: given more than %d times", who, LILM_OPT_LIST_MAX);
        l->items[l->n++] = text;
        return LILM_OK;
    }
    case LILM_OPT_ARGS: {
        if (!ps) return lilm_errorf(LILM_ERR_INTERNAL, "%s: an ARGS row has no default", who);
        lilm_opt_args *l = (lilm_opt_args *)(void *)field;
        ps->argv[1 + ps->n_args++] = (char *)(uintptr_t)text; /* a slot already read */
        l->items = (const char **)(void *)(ps->argv + 1);
        l->n = ps->n_args;
        return LILM_OK;
    }
    }
    return lilm_errorf(LILM_ERR_INTERNAL, "%s: option table row has unknown type %u", who, o->type);
}

static lilm_status set_defaults(const lilm_opt_spec *spec, void *out)
{
    char who[96];
    for (size_t i = 0; i < spec->n_opts; i++) {
        const lilm_opt *o = &spec->opts[i];
        char *field = (char *)out + o->offset;
        display_name(o, who, sizeof who);
        switch (row_type(o)) {
        case LILM_OPT_INT: memset(field, 0, sizeof(int64_t)); break;
        case LILM_OPT_FLOAT: memset(field, 0, sizeof(double)); break;
        case LILM_OPT_BOOL: memset(field, 0, sizeof(int)); break;
        case LILM_OPT_CHOICE: memset(field, 0, sizeof(int)); break;
        case LILM_OPT_STRING: {
            const char *null = NULL;
            memcpy(field, &null, sizeof null);
            break;
        }
        case LILM_OPT_LIST: memset(field, 0, sizeof(lilm_opt_list)); break;
        case LILM_OPT_ARGS: memset(field, 0, sizeof(lilm_opt_args)); break;
        default: return lilm_errorf(LILM_ERR_INTERNAL, "%s: option table row has unknown type %u", who, o->type);
        }
        if (o->def && row_type(o) != LILM_OPT_LIST && row_type(o) != LILM_OPT_CHOICE && row_type(o) != LILM_OPT_ARGS) {
            lilm_status s = set_value(NULL, o, who, o->def, out);
            if (s != LILM_OK) return lilm_error_context(LILM_ERR_INTERNAL, "default of %s: ", who);
        }
    }
    return LILM_OK;
}

static lilm_status unknown_option(const lilm_opt_spec *spec, const char *arg, const char *name)
{
    size_t best = 99;
    const char *best_name = NULL;
    for (size_t i = 0; i < spec->n_opts; i++) {
        if (!is_named(&spec->opts[i])) continue;
        size_t d = lilm_config_edit_distance(name, spec->opts[i].name);
        if (d < best) {
            best = d;
            best_name = spec->opts[i].name;
        }
    }
    if (best_name && best <= 1 + strlen(name) / 3)
        return lilm_errorf(LILM_ERR_ARG, "unknown option '%s' (did you mean '--%s'?)", arg, best_name);
    return lilm_errorf(LILM_ERR_ARG, "unknown option '%s'", arg);
}

/* The row named name[0..len), '_' standing for '-' (--vocab_size). */
static const lilm_opt *find_long(const lilm_opt_spec *spec, const char *name, size_t len)
{
    for (size_t i = 0; i < spec->n_opts; i++) {
        const lilm_opt *o = &spec->opts[i];
        if (!is_named(o) || strlen(o->name) != len) continue;
        size_t j = 0;
        while (j < len && (name[j] == o->name[j] || (name[j] == '_' && o->name[j] == '-'))) j++;
        if (j == len) return o;
    }
    return NULL;
}

static const lilm_opt *find_short(const lilm_opt_spec *spec, char c)
{
    for (size_t i = 0; i < spec->n_opts; i++)
        if (!is_positional(&spec->opts[i]) && spec->opts[i].short_name == c) return &spec->opts[i];
    return NULL;
}

/* Marks row `o` as given (for LILM_OPT_REQUIRED). */
static void mark_given(parse_state *ps, const lilm_opt *o)
{
    ps->given[o - ps->spec->opts] = 1;
}

/* "--name[=value]" at argv[*i]. */
static lilm_status parse_long(parse_state *ps, int argc, char **argv, int *i)
{
    const lilm_opt_spec *spec = ps->spec;
    void *out = ps->out;
    const char *arg = argv[*i];
    const char *name = arg + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const lilm_opt *o = find_long(spec, name, len);
    char who[96];
    if (!o && len > 3 && strncmp(name, "no-", 3) == 0) { /* --no-flag */
        const lilm_opt *neg = find_long(spec, name + 3, len - 3);
        if (neg && row_type(neg) == LILM_OPT_BOOL) {
            if (eq) return lilm_errorf(LILM_ERR_ARG, "option '%.*s' takes no value", (int)len + 2, arg);
            mark_given(ps, neg);
            snprintf(who, sizeof who, "--%s", neg->name);
            return set_value(ps, neg, who, "false", out);
        }
    }
    if (!o) {
        char shown[128];
        snprintf(shown, sizeof shown, "--%.*s", (int)(len < 100 ? len : 100), name);
        return unknown_option(spec, shown, shown + 2);
    }
    snprintf(who, sizeof who, "--%s", o->name);
    mark_given(ps, o);
    if (row_type(o) == LILM_OPT_BOOL) return set_value(ps, o, who, eq ? eq + 1 : "true", out);
    if (eq) return set_value(ps, o, who, eq + 1, out);
    if (*i + 1 >= argc) return lilm_errorf(LILM_ERR_ARG, "option '%s' needs a value", who);
    *i += 1;
    return set_value(ps, o, who, argv[*i], out);
}

/* "-x", "-xVALUE", "-x VALUE", "-qv" at argv[*i]. */
static lilm_status parse_short(parse_state *ps, int argc, char **argv, int *i)
{
    const lilm_opt_spec *spec = ps->spec;
    void *out = ps->out;
    const char *arg = argv[*i];
    char who[96];
    for (const char *p = arg + 1; *p; p++) {
        const lilm_opt *o = find_short(spec, *p);
        if (!o) {
            char shown[3] = {'-', *p, '\0'};
            return lilm_errorf(LILM_ERR_ARG, "unknown option '%s'%s%s%s", shown, p != arg + 1 ? " in '" : "",
                               p != arg + 1 ? arg : "", p != arg + 1 ? "'" : "");
        }
        snprintf(who, sizeof who, "-%c/--%s", o->short_name, o->name);
        mark_given(ps, o);
        if (row_type(o) == LILM_OPT_BOOL) {
            LILM_TRY(set_value(ps, o, who, "true", out));
            continue;
        }
        const char *val = p + 1;
        if (*val == '=') val++;
        if (*val) return set_value(ps, o, who, val, out);
        if (*i + 1 >= argc) return lilm_errorf(LILM_ERR_ARG, "option '%s' needs a value", who);
        *i += 1;
        return set_value(ps, o, who, argv[*i], out);
    }
    return LILM_OK;
}

lilm_status lilm_opts_parse(const lilm_opt_spec *spec, int argc, char **argv, void *out, int *help_requested)
{
    parse_state st = {spec, out, argv, 0, {0}};
    parse_state *ps = &st;
    char who[96];
    if (help_requested) *help_requested = 0;
    if (spec->n_opts > sizeof st.given)
        return lilm_errorf(LILM_ERR_INTERNAL, "%s: more than %zu options", spec->command, sizeof st.given);
    LILM_TRY(set_defaults(spec, out));
    size_t next_pos = 0; /* index into the table of the next positional row to consider */
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!only_positional && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            if (help_requested) *help_requested = 1;
            return LILM_OK;
        }
        if (!only_positional && strcmp(arg, "--") == 0) {
            only_positional = 1;
            continue;
        }
        if (!only_positional && arg[0] == '-' && arg[1] == '-') {
            LILM_TRY(parse_long(ps, argc, argv, &i));
            continue;
        }
        if (!only_positional && arg[0] == '-' && arg[1] != '\0') {
            LILM_TRY(parse_short(ps, argc, argv, &i));
            continue;
        }
        /* a positional: the next positional row (a LIST or ARGS one keeps taking them) */
        while (next_pos < spec->n_opts && !is_positional(&spec->opts[next_pos])) next_pos++;
        if (next_pos >= spec->n_opts)
            return lilm_errorf(LILM_ERR_ARG, "unexpected argument '%s'", arg);
        const lilm_opt *o = &spec->opts[next_pos];
        display_name(o, who, sizeof who);
        mark_given(ps, o);
        LILM_TRY(set_value(ps, o, who, arg, out));
        if (row_type(o) != LILM_OPT_LIST && row_type(o) != LILM_OPT_ARGS) next_pos++;
    }
    for (size_t k = 0; k < spec->n_opts; k++) {
        const lilm_opt *o = &spec->opts[k];
        if ((o->type & LILM_OPT_REQUIRED) && !st.given[k]) {
            display_name(o, who, sizeof who);
            return lilm_errorf(LILM_ERR_ARG, "missing %s%s (%s)", is_positional(o) ? "" : "option ", who, o->help);
        }
    }
    return LILM_OK;
}

/* "--minutes FLOAT" / "-m, --minutes FLOAT" / "CONFIG" */
static void left_column(const lilm_opt *o, char *buf, size_t n)
{
    char name[96];
    display_name(o, name, sizeof name);
    if (is_positional(o)) {
        snprintf(buf, n, "%s%s", name, row_type(o) == LILM_OPT_LIST || row_type(o) == LILM_OPT_ARGS ? "..." : "");
        return;
    }
    const char *meta = "";
    switch (row_type(o)) {
    case LILM_OPT_INT: meta = " INT"; break;
    case LILM_OPT_FLOAT: meta = " FLOAT"; break;
    case LILM_OPT_STRING: meta = " STR"; break;
    case LILM_OPT_CHOICE: meta = " CHOICE"; break;
    case LILM_OPT_LIST: meta = " STR"; break;
    case LILM_OPT_ARGS: meta = " STR"; break;
    case LILM_OPT_BOOL: meta = ""; break;
    }
    if (o->short_name) snprintf(buf, n, "-%c, %s%s", o->short_name, name, meta);
    else snprintf(buf, n, "    %s%s", name, meta);
}

/* "(range [0, 1e6], default 30)" and friends. */
static void right_notes(const lilm_opt *o, char *buf, size_t n)
{
    char range[128];
    range_text(o, range, sizeof range);
    buf[0] = '\0';
    switch (row_type(o)) {
    case LILM_OPT_INT:
    case LILM_OPT_FLOAT:
        snprintf(buf, n, " (%s%s%s%s%s)", row_type(o) == LILM_OPT_INT ? "integer" : "number", range,
                 o->def ? ", default " : "", o->def ? o->def : "", (o->type & LILM_OPT_REQUIRED) ? ", required" : "");
        break;
    case LILM_OPT_BOOL:
        if (strncmp(o->name, "no-", 3) == 0) /* already a negative flag: no double negation */
            snprintf(buf, n, " (flag%s%s)", o->def ? ", default " : "", o->def ? o->def : "");
        else
            snprintf(buf, n, " (flag; --no-%s turns it off%s%s)", o->name, o->def ? ", default " : "",
                     o->def ? o->def : "");
        break;
    case LILM_OPT_STRING:
        if (o->def) snprintf(buf, n, " (default %s)", o->def);
        else if (o->type & LILM_OPT_REQUIRED) snprintf(buf, n, " (required)");
        break;
    case LILM_OPT_CHOICE: {
        const char *bar = o->def ? strchr(o->def, '|') : NULL;
        snprintf(buf, n, " (one of %s, default %.*s)", o->def ? o->def : "", bar ? (int)(bar - o->def) : 64,
                 o->def ? o->def : "");
        break;
    }
    case LILM_OPT_LIST:
        snprintf(buf, n, " (%s)", is_positional(o) ? "any number" : "repeatable");
        break;
    case LILM_OPT_ARGS:
        if (o->type & LILM_OPT_AS_OPTION) snprintf(buf, n, " (any number; --%s VALUE adds one too)", o->name);
        else snprintf(buf, n, " (any number)");
        break;
    }
}

void lilm_opts_print_help(const lilm_opt_spec *spec, FILE *f)
{
    char left[160], notes[320];
    int width = 12;
    int n_pos = 0, n_opt = 0;
    for (size_t i = 0; i < spec->n_opts; i++) {
        left_column(&spec->opts[i], left, sizeof left);
        int w = (int)strlen(left);
        if (w > width) width = w;
        if (is_positional(&spec->opts[i])) n_pos++;
        else n_opt++;
    }
    if (width > 34) width = 34;
    fprintf(f, "usage: lilm %s%s", spec->command, n_opt ? " [options]" : "");
    for (size_t i = 0; i < spec->n_opts; i++) {
        const lilm_opt *o = &spec->opts[i];
        if (!is_positional(o)) continue;
        left_column(o, left, sizeof left);
        if (o->type & LILM_OPT_REQUIRED) fprintf(f, " %s", left);
        else fprintf(f, " [%s]", left);
    }
    fprintf(f, "\n\n%s\n", spec->summary ? spec->summary : "");
    if (n_pos) fprintf(f, "\narguments:\n");
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) fprintf(f, "\noptions:\n");
        for (size_t i = 0; i < spec->n_opts; i++) {
            const lilm_opt *o = &spec->opts[i];
            if (is_positional(o) != (pass == 0)) continue;
            left_column(o, left, sizeof left);
            right_notes(o, notes, sizeof notes);
            if ((int)strlen(left) > width) fprintf(f, "  %s\n  %-*s  %s%s\n", left, width, "", o->help, notes);
            else fprintf(f, "  %-*s  %s%s\n", width, left, o->help, notes);
        }
    }
    fprintf(f, "  %-*s  %s\n", width, "-h, --help", "show this help and exit");
    if (spec->epilog) fprintf(f, "\n%s\n", spec->epilog);
    if (spec->help_extra) {
        fputc('\n', f);
        spec->help_extra(f);
    }
}

int lilm_opts_parse_cli(const lilm_opt_spec *spec, int argc, char **argv, void *out)
{
    int help = 0;
    lilm_status s = lilm_opts_parse(spec, argc, argv, out, &help);
    if (s != LILM_OK) {
        fprintf(stderr, "lilm %s: %s\nHINT: run `lilm %s --help` for every option with its range and default.\n",
                spec->command, lilm_last_error(), spec->command);
        return 2;
    }
    if (help) {
        lilm_opts_print_help(spec, stdout);
        return 0;
    }
    return -1;
}
