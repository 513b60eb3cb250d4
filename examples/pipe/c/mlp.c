/* An MLP with hand-written backprop in C, checked by refbp over a pipe (docs/formats.md section 11):

       make -C examples/pipe/c && refbp check --cmd examples/pipe/c/mlp

   Forward, loss, backward (every layer's dL/dout and dL/dnet on the way down) and training
   (SGD with momentum, Adam; weight decay; frozen tensors), in double whatever the case's dtype.
   It answers `layer` requests too (layers.c: its affine layer, activations and losses, one at a
   time; `refbp check --cmd examples/pipe/c/mlp --layer`).
   Built with -DSIGMOID_ON_NET it is the copy with the classic bug: the sigmoid's slope taken
   from net, net(1 - net), where the chain rule needs out(1 - out) (in its sigmoid layer too). */
#include "layers.h"
#include "pipe.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 16

typedef struct {
    int layers, sizes[MAX_LAYERS + 1], bias, batch, classes_given;
    const char *act[MAX_LAYERS], *loss;
    double *x, *t;                       /* inputs [batch][sizes[0]], targets (or class indices) */
} Net;

typedef struct { double *w[MAX_LAYERS], *b[MAX_LAYERS]; } Params;
typedef struct { double *z[MAX_LAYERS], *a[MAX_LAYERS + 1], *gout[MAX_LAYERS], *gnet[MAX_LAYERS]; } Pass;

static double *zeros(int n) { return calloc(n > 0 ? n : 1, sizeof(double)); }
static double sigmoid(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }
static double softplus(double z) { return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z)); }

double activation(const char *act, double z) {
    if (!strcmp(act, "sigmoid")) return sigmoid(z);
    if (!strcmp(act, "tanh")) return tanh(z);
    if (!strcmp(act, "relu")) return z > 0 ? z : 0;
    if (!strcmp(act, "leaky_relu")) return z > 0 ? z : 0.01 * z;
    if (!strcmp(act, "elu")) return z > 0 ? z : expm1(z);
    if (!strcmp(act, "softplus")) return softplus(z);
    return z;  /* identity */
}

double activation_slope(const char *act, double z) {  /* f'(z), from the pre-activation */
#ifdef SIGMOID_ON_NET
    if (!strcmp(act, "sigmoid")) return z * (1 - z);
#else
    if (!strcmp(act, "sigmoid")) return sigmoid(z) * sigmoid(-z);
#endif
    if (!strcmp(act, "tanh")) return 1 / (cosh(z) * cosh(z));
    if (!strcmp(act, "relu")) return z > 0;
    if (!strcmp(act, "leaky_relu")) return z > 0 ? 1 : 0.01;
    if (!strcmp(act, "elu")) return z > 0 ? 1 : exp(z);
    if (!strcmp(act, "softplus")) return sigmoid(z);
    return 1;
}

static char name[64];
static const char *param_name(int l, const char *what) { snprintf(name, sizeof name, "layers.%d.%s", l, what); return name; }

static double *read_tensor(const json *v) {
    double *data = zeros(tensor_size(v));
    tensor_read(v, data);
    return data;
}

static void read_params(const Net *net, const json *p, Params *out) {
    for (int l = 0; l < net->layers; l++) {
        out->w[l] = read_tensor(json_get(p, param_name(l, "weight")));
        out->b[l] = net->bias ? read_tensor(json_get(p, param_name(l, "bias"))) : zeros(net->sizes[l + 1]);
    }
}

static void free_params(const Net *net, Params *p) { for (int l = 0; l < net->layers; l++) { free(p->w[l]); free(p->b[l]); } }

static void forward(const Net *net, const Params *p, Pass *s) {
    int B = net->batch;
    s->a[0] = net->x;
    for (int l = 0; l < net->layers; l++) {
        int n = net->sizes[l], m = net->sizes[l + 1];
        s->z[l] = zeros(B * m);
        s->a[l + 1] = zeros(B * m);
        for (int i = 0; i < B; i++) {
            for (int o = 0; o < m; o++) {
                double sum = p->b[l][o];
                for (int k = 0; k < n; k++) sum += s->a[l][i * n + k] * p->w[l][o * n + k];
                s->z[l][i * m + o] = sum;
            }
            double *z = s->z[l] + i * m, *a = s->a[l + 1] + i * m;
            if (!strcmp(net->act[l], "softmax")) {
                double top = z[0], total = 0;
                for (int o = 1; o < m; o++) top = z[o] > top ? z[o] : top;
                for (int o = 0; o < m; o++) total += exp(z[o] - top);
                for (int o = 0; o < m; o++) a[o] = exp(z[o] - top - log(total));
            } else {
                for (int o = 0; o < m; o++) a[o] = activation(net->act[l], z[o]);
            }
        }
    }
}

static void free_pass(const Net *net, Pass *s) {
    for (int l = 0; l < net->layers; l++) { free(s->z[l]); free(s->a[l + 1]); free(s->gout[l]); free(s->gnet[l]); }
    memset(s, 0, sizeof *s);
}

static double target(const Net *net, int i, int o, int m) {  /* class indices read as one-hot */
    return net->classes_given ? (int)net->t[i] == o : net->t[i * m + o];
}

/* The loss; with `dy` set, also dL/dy (of the last layer's output). */
static double loss(const Net *net, const double *y, double *dy) {
    int B = net->batch, m = net->sizes[net->layers], size = B * m;
    double total = 0;
    if (!strcmp(net->loss, "cross_entropy")) {   /* on logits */
        for (int i = 0; i < B; i++) {
            const double *z = y + i * m;
            double top = z[0], sum = 0, mass = 0;
            for (int o = 1; o < m; o++) top = z[o] > top ? z[o] : top;
            for (int o = 0; o < m; o++) sum += exp(z[o] - top);
            for (int o = 0; o < m; o++) mass += target(net, i, o, m);
            for (int o = 0; o < m; o++) {
                double log_p = z[o] - top - log(sum), p = target(net, i, o, m);
                total -= p * log_p / B;
                if (dy) dy[i * m + o] = (exp(log_p) * mass - p) / B;
            }
        }
        return total;
    }
    for (int j = 0; j < size; j++) {
        double yj = y[j], tj = net->t[j], d = yj - tj;
        if (!strcmp(net->loss, "half_sse")) { total += 0.5 * d * d; if (dy) dy[j] = d; }
        else if (!strcmp(net->loss, "sse")) { total += d * d; if (dy) dy[j] = 2 * d; }
        else if (!strcmp(net->loss, "mse")) { total += d * d / size; if (dy) dy[j] = 2 * d / size; }
        else {  /* bce, torch's clamp of the logarithms at -100 */
            double ly = fmax(log(yj), -100), lny = fmax(log(1 - yj), -100), spread = fmax(yj * (1 - yj), 1e-12);
            total -= (tj * ly + (1 - tj) * lny) / size;
            if (dy) dy[j] = d / spread / size;
        }
    }
    return total;
}

/* The loss alone, for layers.c: that of a net of no layers, whose output is y [batch][width]. */
double loss_of(const char *loss_name, const double *y, double *t, int batch, int width, int classes_given, double *dy) {
    Net net = {.layers = 0, .batch = batch, .classes_given = classes_given, .loss = loss_name, .t = t};
    net.sizes[0] = width;
    return loss(&net, y, dy);
}

/* Backward: every layer's dL/dout and dL/dnet, and the gradients into g. */
static void backward(const Net *net, const Params *p, Pass *s, Params *g) {
    int B = net->batch, L = net->layers;
    double *up = zeros(B * net->sizes[L]);
    loss(net, s->a[L], up);
    for (int l = L - 1; l >= 0; l--) {
        int n = net->sizes[l], m = net->sizes[l + 1];
        double *delta = zeros(B * m);
        for (int i = 0; i < B; i++) {
            double *u = up + i * m, *a = s->a[l + 1] + i * m, *d = delta + i * m, dot = 0;
            if (!strcmp(net->act[l], "softmax")) {   /* the Jacobian diag(s) - s s^T applied to u */
                for (int o = 0; o < m; o++) dot += u[o] * a[o];
                for (int o = 0; o < m; o++) d[o] = a[o] * (u[o] - dot);
            } else {
                for (int o = 0; o < m; o++) d[o] = u[o] * activation_slope(net->act[l], s->z[l][i * m + o]);
            }
        }
        g->w[l] = zeros(m * n);
        g->b[l] = zeros(m);
        double *below = zeros(B * n);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < m; o++) {
                double d = delta[i * m + o];
                g->b[l][o] += d;
                for (int k = 0; k < n; k++) {
                    g->w[l][o * n + k] += d * s->a[l][i * n + k];
                    below[i * n + k] += d * p->w[l][o * n + k];
                }
            }
        s->gout[l] = up;
        s->gnet[l] = delta;
        up = below;
    }
    free(up);
}

static double loss_at(const Net *net, const Params *p) {
    Pass s = {0};
    forward(net, p, &s);
    double value = loss(net, s.a[net->layers], NULL);
    free_pass(net, &s);
    return value;
}

static int frozen(const json *train, const char *tensor) {
    json *list = json_get(train, "frozen");
    for (int i = 0; list && i < list->n; i++) if (!strcmp(list->items[i].str, tensor)) return 1;
    return 0;
}

/* torch.optim's SGD (momentum, weight decay) and Adam, `steps` times, p changed in place. */
static void train(const Net *net, const json *spec, Params *p) {
    const char *optimizer = json_str(spec, "optimizer", "sgd");
    double lr = json_num(spec, "lr", 0.1), decay = json_num(spec, "weight_decay", 0), momentum = json_num(spec, "momentum", 0);
    json *betas = json_get(spec, "betas");
    double b1 = betas ? betas->items[0].num : 0.9, b2 = betas ? betas->items[1].num : 0.999, eps = json_num(spec, "eps", 1e-8);
    int steps = (int)json_num(spec, "steps", 1);
    double *m1[2 * MAX_LAYERS] = {0}, *m2[2 * MAX_LAYERS] = {0};
    for (int step = 1; step <= steps; step++) {
        Pass s = {0};
        Params g;
        forward(net, p, &s);
        backward(net, p, &s, &g);
        for (int t = 0; t < 2 * net->layers; t++) {
            int l = t / 2, is_bias = t % 2, size = net->sizes[l + 1] * (is_bias ? 1 : net->sizes[l]);
            if (is_bias && !net->bias) continue;
            if (frozen(spec, param_name(l, is_bias ? "bias" : "weight"))) continue;
            double *w = is_bias ? p->b[l] : p->w[l], *gw = is_bias ? g.b[l] : g.w[l];
            if (!m1[t]) { m1[t] = zeros(size); m2[t] = zeros(size); }
            for (int j = 0; j < size; j++) {
                double gj = gw[j] + decay * w[j];
                if (!strcmp(optimizer, "sgd")) {
                    if (momentum) gj = m1[t][j] = step == 1 ? gj : momentum * m1[t][j] + gj;
                    w[j] -= lr * gj;
                } else {
                    m1[t][j] = b1 * m1[t][j] + (1 - b1) * gj;
                    m2[t][j] = b2 * m2[t][j] + (1 - b2) * gj * gj;
                    double denominator = sqrt(m2[t][j]) / sqrt(1 - pow(b2, step)) + eps;
                    w[j] -= lr / (1 - pow(b1, step)) * m1[t][j] / denominator;
                }
            }
        }
        free_params(net, &g);
        free_pass(net, &s);
    }
    for (int t = 0; t < 2 * MAX_LAYERS; t++) { free(m1[t]); free(m2[t]); }
}

static void answer_params(const Net *net, const char *key, const Params *p) {
    answer_open(key);
    for (int l = 0; l < net->layers; l++) {
        answer_tensor(param_name(l, "weight"), p->w[l], net->sizes[l + 1], net->sizes[l]);
        if (net->bias) answer_tensor(param_name(l, "bias"), p->b[l], net->sizes[l + 1], 0);
    }
    answer_close();
}

static void evaluate(const json *request) {
    const json *c = json_get(request, "case"), *network = json_get(c, "network"), *acts = json_get(network, "activations");
    const json *sizes = json_get(network, "sizes"), *targets = json_get(c, "targets");
    Net net = {.layers = acts->n, .bias = (int)json_num(network, "bias", 1), .loss = json_str(c, "loss", "mse")};
    if (net.layers > MAX_LAYERS) { answer_begin(request, "unsupported"); answer_string("message", "too deep"); answer_end(); return; }
    for (int l = 0; l <= net.layers; l++) net.sizes[l] = (int)sizes->items[l].num;
    for (int l = 0; l < net.layers; l++) net.act[l] = acts->items[l].str;
    net.batch = json_get(c, "inputs")->n;
    net.classes_given = targets->n > 0 && targets->items[0].type == J_NUM;
    net.x = read_tensor(json_get(c, "inputs"));
    net.t = read_tensor(targets);
    Params p, g;
    Pass s = {0};
    read_params(&net, json_get(c, "params"), &p);
    forward(&net, &p, &s);
    backward(&net, &p, &s, &g);
    int B = net.batch, L = net.layers;
    answer_begin(request, "answer");
    if (wants(request, "outputs")) answer_tensor("outputs", s.a[L], B, net.sizes[L]);
    if (wants(request, "loss")) answer_number("loss", loss(&net, s.a[L], NULL));
    if (wants(request, "grads")) answer_params(&net, "grads", &g);
    if (wants(request, "intermediates")) {
        answer_open("intermediates");
        for (int l = 0; l < L; l++) {
            answer_tensor(param_name(l, "net"), s.z[l], B, net.sizes[l + 1]);
            answer_tensor(param_name(l, "out"), s.a[l + 1], B, net.sizes[l + 1]);
        }
        answer_close();
    }
    if (wants(request, "error_signals")) {
        answer_open("error_signals");
        for (int l = 0; l < L; l++) {
            answer_tensor(param_name(l, "grad_out"), s.gout[l], B, net.sizes[l + 1]);
            answer_tensor(param_name(l, "grad_net"), s.gnet[l], B, net.sizes[l + 1]);
        }
        answer_close();
    }
    if (wants(request, "train") && json_get(c, "train") && json_get(c, "train")->type == J_OBJ) {
        Params after;
        read_params(&net, json_get(c, "params"), &after);
        train(&net, json_get(c, "train"), &after);
        answer_params(&net, "params_after", &after);
        answer_number("loss_after", loss_at(&net, &after));
        free_params(&net, &after);
    }
    if (wants(request, "losses")) {   /* the loss at many parameter sets: own-forward finite differences */
        const json *list = json_get(request, "params_list");
        double *values = zeros(list->n);
        for (int i = 0; i < list->n; i++) {
            Params q;
            read_params(&net, &list->items[i], &q);
            values[i] = loss_at(&net, &q);
            free_params(&net, &q);
        }
        answer_tensor("losses", values, list->n, 0);
        free(values);
    }
    answer_end();
    free_params(&net, &g);
    free_params(&net, &p);
    free_pass(&net, &s);
    free(net.x);
    free(net.t);
}

int main(void) {
    json *request;
    while ((request = pipe_read()) != NULL) {
        if (!strcmp(json_str(request, "type", ""), "hello")) {
            static const char *kinds[] = {"mlp"}, *dtypes[] = {"float64", "float32"},
                *quantities[] = {"outputs", "loss", "grads", "intermediates", "error_signals", "train", "losses"};
            answer_begin(request, "hello");
            answer_string("protocol", "refbp-pipe/1");
            answer_string("name", "c-mlp");
            answer_string("version", "1.0");
            answer_strings("kinds", kinds, 1);
            answer_strings("dtypes", dtypes, 2);
            answer_strings("quantities", quantities, 7);
            answer_layers_hello();
            answer_end();
        } else if (!strcmp(json_str(request, "type", ""), "layer")) {
            answer_layer(request);
        } else {
            evaluate(request);
        }
        json_free(request);
    }
    return 0;
}
