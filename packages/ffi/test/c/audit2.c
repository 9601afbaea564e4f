/* Misuse of plue_bulk and plue_conflict_resolve from a program with its own main(), for
 * Audit2.test.ts: prints `ok NAME` or `FAIL NAME: why` per check; exits with the failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

static int failures = 0;

static void check(int ok, const char *name) {
    if (ok) printf("ok %s\n", name);
    else {
        printf("FAIL %s: code=%d message=%s\n", name, plue_get_last_error_code(), plue_get_last_error());
        failures++;
    }
}

/* plue_bulk refuses the text: NULL, this code, a message containing `says`. */
static void refused(const char *json, int code, const char *says, const char *name) {
    char *result = plue_bulk(json);
    check(result == NULL && plue_get_last_error_code() == code && strstr(plue_get_last_error(), says) != NULL, name);
    plue_free_json(result);
}

int main(void) {
    refused("[]", PLUE_ERR_NOT_BOUND, "plue_init", "plue_bulk before plue_init is PLUE_ERR_NOT_BOUND");
    check(plue_conflict_resolve("op_x", "local") == PLUE_ERR_NOT_BOUND, "plue_conflict_resolve before plue_init is PLUE_ERR_NOT_BOUND");
    if (plue_init(NULL) != PLUE_OK) {
        printf("FAIL plue_init: %s\n", plue_get_last_error());
        return 100;
    }

    size_t depth = 100000;
    char *deep = malloc(2 * depth + 1);
    if (deep == NULL) return 101;
    memset(deep, '[', depth);
    memset(deep + depth, ']', depth);
    deep[2 * depth] = '\0';
    refused(deep, PLUE_ERR_INVALID_ARGUMENT, "nested too deeply", "a batch nested 100000 deep is PLUE_ERR_INVALID_ARGUMENT");
    free(deep);
    refused("{\"operations\":[],\"concurrency\":0}", PLUE_ERR_INVALID_ARGUMENT, "concurrency: ", "concurrency 0 is refused, naming the field");
    refused("[{\"op\":\"delete\",\"session\":\"ses_a\",\"sesion\":\"x\"}]", PLUE_ERR_INVALID_ARGUMENT, "[0].sesion: is unexpected",
            "a misspelt field is refused, naming it");

    char *results = plue_bulk("[{\"op\":\"delete\",\"session\":\"ses_0000000000000audit2missing\"},{\"op\":\"abort\",\"session\":\"../etc\"}]");
    check(results != NULL, "a batch of failing operations gives results");
    if (results != NULL) {
        printf("results %s\n", results);
        check(strstr(results, "\"_tag\":\"SessionNotFound\"") != NULL && strstr(results, "\"code\":3") != NULL, "a missing session fails its item: SessionNotFound, code 3");
        check(strstr(results, "\"_tag\":\"InvalidSessionId\"") != NULL && strstr(results, "\"code\":1") != NULL, "a malformed id fails its item: InvalidSessionId, code 1");
        check(strstr(results, "\"stack\"") == NULL && strstr(results, ".cjs") == NULL, "no JavaScript stack in the results");
    }
    plue_free_json(results);

    /* A batch that works: a create, then a rename and a delete of what it made, one result each. */
    char *made = plue_bulk("[{\"op\":\"create\",\"title\":\"made by plue_bulk\"}]");
    const char *at = made != NULL ? strstr(made, "\"session\":{\"id\":\"") : NULL;
    check(made != NULL && strstr(made, "\"status\":\"ok\"") != NULL && at != NULL, "a create in a batch is ok, with its session");
    if (at != NULL) {
        char id[64] = {0}, batch[512];
        sscanf(at + 17, "%63[^\"]", id);
        snprintf(batch, sizeof batch,
                 "{\"operations\":[{\"op\":\"title\",\"session\":\"%s\",\"title\":\"renamed by plue_bulk\"},{\"op\":\"delete\",\"session\":\"%s\"}],\"concurrency\":1}",
                 id, id);
        char *done = plue_bulk(batch);
        check(done != NULL && strstr(done, "\"title\":\"renamed by plue_bulk\"") != NULL && strstr(done, "\"deleted\":1") != NULL &&
                  strstr(done, "\"failed\"") == NULL,
              "a rename and a delete of it, in order, both ok");
        plue_free_json(done);
    }
    plue_free_json(made);

    check(plue_conflict_resolve(NULL, "local") == PLUE_ERR_INVALID_ARGUMENT, "plue_conflict_resolve(NULL, ...) is PLUE_ERR_INVALID_ARGUMENT");
    check(plue_conflict_resolve("op_x", NULL) == PLUE_ERR_INVALID_ARGUMENT, "plue_conflict_resolve(..., NULL) is PLUE_ERR_INVALID_ARGUMENT");
    check(plue_conflict_resolve("op_\xff", "local") == PLUE_ERR_INVALID_ARGUMENT, "an op_id that is not UTF-8 is PLUE_ERR_INVALID_ARGUMENT");
    check(plue_conflict_resolve("op_x", "local") == PLUE_ERR_NOT_FOUND, "the outbox off: an op_id is not waiting, PLUE_ERR_NOT_FOUND");
    check(plue_conflict_resolve("op_x", "text:a title") == PLUE_ERR_NOT_FOUND, "the outbox off: text: also PLUE_ERR_NOT_FOUND");
    check(plue_conflict_resolve("op_x", "sideways") == PLUE_ERR_INVALID_ARGUMENT, "another choice is PLUE_ERR_INVALID_ARGUMENT");
    check(strstr(plue_get_last_error(), "choice must be") != NULL && strstr(plue_get_last_error(), "OpenCode") == NULL,
          "another choice: the message says what a choice is, and does not blame OpenCode (it was never asked)");

    check(plue__live_strings() == 0, "every string freed");
    check(plue_shutdown() == PLUE_OK, "plue_shutdown");
    refused("[]", PLUE_ERR_NOT_BOUND, "", "plue_bulk after the last plue_shutdown is PLUE_ERR_NOT_BOUND");
    printf("done: %d failure(s)\n", failures);
    return failures;
}
