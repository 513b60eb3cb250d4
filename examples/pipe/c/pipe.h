/* refbp-pipe/1 in C (docs/formats.md section 11): read one JSON request a line from stdin,
   write one answer a line to stdout. The part to copy: a small JSON reader (numbers as double)
   and writers for numbers, lists of words and tensors. Anything else you print goes to stderr.
   Arrays are read as nested lists only: leave "arrays" out of the hello (no base64). A hello:
       answer_begin(request, "hello"); answer_string("protocol", "refbp-pipe/1");
       answer_string("name", "my-mlp"); const char *kinds[] = {"mlp"}; answer_strings("kinds", kinds, 1);
       answer_end();                                                                             */
#ifndef REFBP_PIPE_H
#define REFBP_PIPE_H

typedef enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct json {
    jtype type;
    double num;          /* J_NUM, J_BOOL (0 or 1) */
    char *str;           /* J_STR */
    int n;               /* J_ARR, J_OBJ: how many items */
    struct json *items;  /* J_ARR, J_OBJ */
    char **keys;         /* J_OBJ */
} json;

json *pipe_read(void);                            /* the next request (NULL at the end of stdin) */
void json_free(json *value);
json *json_get(const json *object, const char *key);    /* NULL when absent */
const char *json_str(const json *object, const char *key, const char *otherwise);
double json_num(const json *object, const char *key, double otherwise);
int tensor_size(const json *value);               /* numbers in nested lists */
void tensor_read(const json *value, double *into);    /* nested lists -> flat, C order */

int wants(const json *request, const char *quantity);    /* whether its "want" lists `quantity` */

void answer_begin(const json *request, const char *type);  /* {"id":N,"type":"..." */
void answer_string(const char *key, const char *text);
void answer_strings(const char *key, const char *const *items, int n);   /* ,"key":["a","b"] */
void answer_number(const char *key, double value);
void answer_tensor(const char *key, const double *data, int rows, int cols); /* cols 0: a vector */
void answer_open(const char *key);                /* ,"key":{ ... */
void answer_close(void);                          /* } */
void answer_end(void);                            /* }\n, flushed */
#endif
