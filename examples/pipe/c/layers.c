/* The layers of the C example: answers to `layer` requests of refbp-pipe/1 (docs/formats.md
   section 11, message 7; the functions: section 12). Checked with

       make -C examples/pipe/c && refbp check --cmd examples/pipe/c/mlp --layer

   A request names one function and gives its inputs as nested lists:

       {"id": 9, "type": "layer", "function": "affine", "layout": "out_in",
        "inputs": {"x": [[...]], "w": [[...]], "b": [...]}, "upstream": [[...]], "want": ["output", "grads"]}

   The answer is the function's output at those inputs and, when "grads" is wanted, the gradient
   of sum(output * upstream) with respect to each input, named by input and in its shape:

       {"id": 9, "type": "answer", "output": [[...]], "grads": {"x": [[...]], "w": [[...]], "b": [...]}}

   A loss's output is one number, its upstream one number too: its gradient is upstream * dloss/dx,
   and its targets y get none (they are data). Without "grads" (and without upstream) refbp asks
   for the output alone: its finite differences of this very forward.

   The activations and the losses are mlp.c's own (activation, activation_slope, loss_of): a layer
   request checks the code the whole network runs, one function at a time. */
#include "layers.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(list) ((int)(sizeof(list) / sizeof((list)[0])))

/* What the hello lists: the functions of section 12 that the MLP has (no rnn_step, no rnn). */
static const char *const LAYERS[] = {
    "affine",                                                                      /* x w^T + b */
    "identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus",        /* entry by entry */
    "softmax",                                                                     /* over each row */
    "half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy",     /* losses */
};
static const char *const LOSSES[] = {"half_sse", "sse", "mse", "bce", "cross_entropy", "softmax_cross_entropy"};

void answer_layers_hello(void) {
    answer_strings("layers", LAYERS, COUNT(LAYERS));
    answer_string("layout", "out_in");   /* w is [outputs][inputs], as torch's nn.Linear */
}

static int listed(const char *name, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(name, list[i])) return 1;
    return 0;
}

static double *zeros(int n) { return calloc(n > 0 ? n : 1, sizeof(double)); }

/* An array of the request, flat in C order: rows x cols numbers, or a vector (cols 0) of rows.
   data is NULL when it is absent or not a list of rows of one width. */
typedef struct {
    double *data;
    int rows, cols;
} Tensor;

static Tensor tensor_of(const json *value) {
    Tensor t = {NULL, 0, 0};
    if (!value || value->type != J_ARR) return t;
    t.rows = value->n;
    t.cols = value->n > 0 && value->items[0].type == J_ARR ? value->items[0].n : 0;
    if (tensor_size(value) != t.rows * (t.cols ? t.cols : 1)) return t;   /* ragged */
    t.data = zeros(tensor_size(value));
    tensor_read(value, t.data);
    return t;
}

static int has_shape(const Tensor *t, int rows, int cols) { return t->data && t->rows == rows && t->cols == cols; }

/* affine: output = x w^T + b [B][M], from x [B][D], w [M][D], b [M]. With u the upstream [B][M]:
   dx = u w [B][D], dw = u^T x [M][D], db = u summed over the batch [M].
   Returns NULL once it has answered, or what is wrong with the request (nothing written). */
static const char *affine(const json *request, const Tensor *x, const Tensor *w, const Tensor *b, const Tensor *u) {
    int B = x->rows, D = x->cols, M = w->rows, grads = wants(request, "grads");
    if (!has_shape(w, M, D) || M == 0) return "w is not an [outputs][inputs] array of x's width";
    if (!has_shape(b, M, 0)) return "b is not a vector of w's rows";
    if (grads && !has_shape(u, B, M)) return "upstream is not of the output's shape";

    double *out = zeros(B * M);
    for (int i = 0; i < B; i++)
        for (int o = 0; o < M; o++) {
            double sum = b->data[o];
            for (int k = 0; k < D; k++) sum += x->data[i * D + k] * w->data[o * D + k];
            out[i * M + o] = sum;
        }
    answer_begin(request, "answer");
    answer_tensor("output", out, B, M);
    if (grads) {
        double *dx = zeros(B * D), *dw = zeros(M * D), *db = zeros(M);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < M; o++) {
                double up = u->data[i * M + o];
                db[o] += up;
                for (int k = 0; k < D; k++) {
                    dx[i * D + k] += up * w->data[o * D + k];
#ifdef AFFINE_W_SIGN
                    dw[o * D + k] -= up * x->data[i * D + k];   /* the injected bug: the sign flipped */
#else
                    dw[o * D + k] += up * x->data[i * D + k];
#endif
                }
            }
        answer_open("grads");
        answer_tensor("x", dx, B, D);
        answer_tensor("w", dw, M, D);
        answer_tensor("b", db, M, 0);
        answer_close();
        free(dx);
        free(dw);
        free(db);
    }
    answer_end();
    free(out);
    return NULL;
}

/* The softmax of one row z of n numbers into s, its largest number taken out first (no overflow). */
static void softmax_row(const double *z, double *s, int n) {
    double top = z[0], total = 0;
    for (int o = 1; o < n; o++) top = z[o] > top ? z[o] : top;
    for (int o = 0; o < n; o++) total += exp(z[o] - top);
    for (int o = 0; o < n; o++) s[o] = exp(z[o] - top) / total;
}

/* An activation entry by entry (dx = u * f'(x)), or the softmax of each row (dx = s * (u - <u, s>):
   its Jacobian diag(s) - s s^T applied to u), on x [B][M]. */
static const char *elementwise(const json *request, const char *function, const Tensor *x, const Tensor *u) {
    int B = x->rows, M = x->cols, grads = wants(request, "grads"), softmax = !strcmp(function, "softmax");
    if (grads && !has_shape(u, B, M)) return "upstream is not of the output's shape";

    double *out = zeros(B * M), *dx = zeros(B * M);
    for (int i = 0; i < B; i++) {
        const double *z = x->data + i * M;
        double *s = out + i * M, *d = dx + i * M;
        if (softmax) softmax_row(z, s, M);
        else for (int o = 0; o < M; o++) s[o] = activation(function, z[o]);
        if (!grads) continue;
        const double *up = u->data + i * M;
        if (softmax) {
            double dot = 0;
            for (int o = 0; o < M; o++) dot += up[o] * s[o];
            for (int o = 0; o < M; o++) d[o] = s[o] * (up[o] - dot);
        } else {
            for (int o = 0; o < M; o++) d[o] = up[o] * activation_slope(function, z[o]);
        }
    }
    answer_begin(request, "answer");
    answer_tensor("output", out, B, M);
    if (grads) {
        answer_open("grads");
        answer_tensor("x", dx, B, M);
        answer_close();
    }
    answer_end();
    free(out);
    free(dx);
    return NULL;
}

/* A loss of x [B][M] against targets y: [B][M], or class indices [B] for cross_entropy (which
   softmax_cross_entropy is too, by CS231n's name). Its output is one number, dx = upstream * dL/dx. */
static const char *loss_layer(const json *request, const char *function, const Tensor *x, const Tensor *y) {
    int B = x->rows, M = x->cols, grads = wants(request, "grads");
    int cross_entropy = strstr(function, "cross_entropy") != NULL, class_indices = cross_entropy && y->cols == 0;
    const json *upstream = json_get(request, "upstream");
    if (class_indices ? !has_shape(y, B, 0) : !has_shape(y, B, M)) return "y is not of the shape this loss takes";
    if (grads && (!upstream || upstream->type != J_NUM)) return "upstream is not one number";

    double *dx = zeros(B * M);
    double value = loss_of(cross_entropy ? "cross_entropy" : function, x->data, y->data, B, M, class_indices, dx);
    answer_begin(request, "answer");
    answer_number("output", value);
    if (grads) {
        for (int j = 0; j < B * M; j++) dx[j] *= upstream->num;
        answer_open("grads");
        answer_tensor("x", dx, B, M);
        answer_close();
    }
    answer_end();
    free(dx);
    return NULL;
}

void answer_layer(const json *request) {
    const char *function = json_str(request, "function", "");
    const json *inputs = json_get(request, "inputs");
    Tensor x = tensor_of(json_get(inputs, "x")), w = tensor_of(json_get(inputs, "w")),
           b = tensor_of(json_get(inputs, "b")), y = tensor_of(json_get(inputs, "y")),
           upstream = tensor_of(json_get(request, "upstream"));   /* absent for a loss: one number */
    const char *problem;
    if (!listed(function, LAYERS, COUNT(LAYERS))) problem = "not one of the layers this program's hello lists";
    else if (strcmp(json_str(request, "layout", "out_in"), "out_in")) problem = "weights as (out, in) only: the hello's layout";
    else if (!x.data || x.rows == 0 || x.cols == 0) problem = "x is not a [batch][width] array";
    else if (!strcmp(function, "affine")) problem = affine(request, &x, &w, &b, &upstream);
    else if (listed(function, LOSSES, COUNT(LOSSES))) problem = loss_layer(request, function, &x, &y);
    else problem = elementwise(request, function, &x, &upstream);
    if (problem) {   /* an `error` message: refbp fails this input set only */
        answer_begin(request, "error");
        answer_string("message", problem);
        answer_end();
    }
    free(x.data);
    free(w.data);
    free(b.data);
    free(y.data);
    free(upstream.data);
}
