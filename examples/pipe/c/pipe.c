/* refbp-pipe/1 in C: see pipe.h. A JSON reader for refbp's requests (no escapes beyond \" \\ \/
   and \uXXXX kept as is: case texts are ASCII) and the answer writers. */
#define _POSIX_C_SOURCE 200809L  /* getline */
#include "pipe.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *at;
static int first_field;   /* no comma before the first field of an object being written */

static void skip(void) { while (*at == ' ' || *at == '\t' || *at == '\r' || *at == '\n') at++; }

static char *parse_string(void) {
    const char *start = ++at;
    while (*at && *at != '"') at += (*at == '\\' && at[1]) ? 2 : 1;
    char *text = malloc(at - start + 1), *out = text;
    for (const char *p = start; p < at; p++) *out++ = (*p == '\\' && p + 1 < at) ? *++p : *p;
    *out = 0;
    if (*at) at++;
    return text;
}

static void parse(json *v) {
    skip();
    memset(v, 0, sizeof *v);
    if (*at == '{' || *at == '[') {
        int object = *at++ == '{';
        v->type = object ? J_OBJ : J_ARR;
        for (skip(); *at && *at != (object ? '}' : ']'); skip()) {
            if (*at == ',') { at++; continue; }
            v->items = realloc(v->items, (v->n + 1) * sizeof *v->items);
            if (object) {
                v->keys = realloc(v->keys, (v->n + 1) * sizeof *v->keys);
                skip();
                v->keys[v->n] = parse_string();
                skip();
                if (*at == ':') at++;
            }
            parse(&v->items[v->n++]);
        }
        if (*at) at++;
    } else if (*at == '"') {
        v->type = J_STR;
        v->str = parse_string();
    } else if (!strncmp(at, "true", 4) || !strncmp(at, "false", 5)) {
        v->type = J_BOOL;
        v->num = *at == 't';
        at += v->num ? 4 : 5;
    } else if (!strncmp(at, "null", 4)) {
        at += 4;
    } else {
        char *end;
        v->type = J_NUM;
        v->num = strtod(at, &end);
        at = end > at ? end : at + 1;
    }
}

json *pipe_read(void) {
    static char *line;
    static size_t capacity;
    if (getline(&line, &capacity, stdin) < 0) return NULL;
    json *v = malloc(sizeof *v);
    at = line;
    parse(v);
    return v;
}

static void free_inside(json *v) {
    for (int i = 0; i < v->n; i++) {
        free_inside(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->str);
}

void json_free(json *v) { if (v) { free_inside(v); free(v); } }

json *json_get(const json *o, const char *key) {
    for (int i = 0; o && o->type == J_OBJ && i < o->n; i++)
        if (!strcmp(o->keys[i], key)) return &o->items[i];
    return NULL;
}

const char *json_str(const json *o, const char *key, const char *otherwise) {
    json *v = json_get(o, key);
    return v && v->type == J_STR ? v->str : otherwise;
}

double json_num(const json *o, const char *key, double otherwise) {
    json *v = json_get(o, key);
    return v && (v->type == J_NUM || v->type == J_BOOL) ? v->num : otherwise;
}

int tensor_size(const json *v) {
    if (v->type != J_ARR) return 1;
    int n = 0;
    for (int i = 0; i < v->n; i++) n += tensor_size(&v->items[i]);
    return n;
}

static double *fill(const json *v, double *into) {
    if (v->type != J_ARR) { *into = v->type == J_NUM ? v->num : NAN; return into + 1; }
    for (int i = 0; i < v->n; i++) into = fill(&v->items[i], into);
    return into;
}

void tensor_read(const json *v, double *into) { fill(v, into); }

static void key(const char *name) {
    printf(first_field ? "\"%s\":" : ",\"%s\":", name);
    first_field = 0;
}

static void number(double x) {   /* JSON has no NaN: refbp reads NaN and Infinity as Python writes them */
    if (isnan(x)) printf("NaN");
    else if (isinf(x)) printf(x > 0 ? "Infinity" : "-Infinity");
    else printf("%.17g", x);
}

void answer_begin(const json *request, const char *type) {
    printf("{\"id\":%.0f,\"type\":\"%s\"", json_num(request, "id", -1), type);
    first_field = 0;
}

void answer_string(const char *name, const char *text) { key(name); printf("\"%s\"", text); }

void answer_strings(const char *name, const char *const *items, int n) {
    key(name);
    putchar('[');
    for (int i = 0; i < n; i++) printf(i ? ",\"%s\"" : "\"%s\"", items[i]);
    putchar(']');
}

int wants(const json *request, const char *quantity) {
    json *want = json_get(request, "want");
    for (int i = 0; want && i < want->n; i++)
        if (want->items[i].type == J_STR && !strcmp(want->items[i].str, quantity)) return 1;
    return 0;
}
void answer_number(const char *name, double value) { key(name); number(value); }

void answer_tensor(const char *name, const double *data, int rows, int cols) {
    key(name);
    putchar('[');
    for (int r = 0; r < rows; r++) {
        if (r) putchar(',');
        if (cols) putchar('[');
        for (int c = 0; c < (cols ? cols : 1); c++) {
            if (c) putchar(',');
            number(data[r * (cols ? cols : 1) + c]);
        }
        if (cols) putchar(']');
    }
    putchar(']');
}

void answer_open(const char *name) { key(name); putchar('{'); first_field = 1; }
void answer_close(void) { putchar('}'); first_field = 0; }
void answer_end(void) { printf("}\n"); fflush(stdout); }
