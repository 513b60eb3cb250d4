/* The layers of the C example (layers.c): `layer` requests of refbp-pipe/1 (docs/formats.md
   sections 11 and 12), one function at a time, weights (out, in) as torch's. */
#ifndef REFBP_LAYERS_H
#define REFBP_LAYERS_H
#include "pipe.h"

/* Writes the hello's "layers" (the functions answered) and "layout" ("out_in") fields. */
void answer_layers_hello(void);

/* Answers one `layer` request: its output and, when wanted, the gradients of <output, upstream>. */
void answer_layer(const json *request);

/* From mlp.c, shared with the whole network: an activation, its slope f'(z) from the
   pre-activation z, and a loss of outputs y [batch][width] against targets t (class indices
   [batch] when classes_given), with dL/dy written into dy when dy is not NULL. */
double activation(const char *name, double z);
double activation_slope(const char *name, double z);
double loss_of(const char *name, const double *y, double *t, int batch, int width, int classes_given, double *dy);
#endif
