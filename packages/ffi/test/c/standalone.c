/*
 * The header's own C, with no bridge bound: run under valgrind (or a sanitizer) by the tests.
 * Every session call must fail cleanly with PLUE_ERR_NOT_BOUND; the event machinery, UTF-8
 * checks and error storage must neither leak nor touch memory they do not own.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#define PLUE_IMPLEMENTATION
#include "plue.h"

int plue_host_main(int argc, char **argv) { (void)argc; (void)argv; return 0; }

static int failures = 0;
#define CHECK(cond) do { if (!(cond)) { failures++; fprintf(stderr, "line %d: %s\n", __LINE__, #cond); } } while (0)

static void on_event(const char *json, void *userdata) { (void)json; (void)userdata; }

static void *thread_main(void *arg) {
    int i;
    (void)arg;
    for (i = 0; i < 200; i++) {
        CHECK(plue_session_create(NULL) == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND);
        CHECK(strstr(plue_get_last_error(), "plue host") != NULL);
        CHECK(plue_session_update_title((plue_session_t)(intptr_t)7, "caf\xC3\xA9") == PLUE_ERR_NOT_BOUND);
        CHECK(plue_session_update_title((plue_session_t)(intptr_t)7, "caf\xC3") == PLUE_ERR_INVALID_ARGUMENT);
    }
    return NULL;
}

int main(void) {
    pthread_t threads[4];
    int i, ids[16];
    char huge[4096];
    CHECK(strcmp(plue_version(), PLUE_VERSION) == 0);
    CHECK(plue_session_list() == NULL && plue_get_last_error_code() == PLUE_ERR_NOT_BOUND);
    CHECK(plue_session_get_info(NULL) == NULL && plue_get_last_error_code() == PLUE_ERR_INVALID_HANDLE);
    plue_session_destroy(NULL);
    plue_free_json(NULL);
    memset(huge, 'x', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    CHECK(plue_session_open(huge) == NULL);
    CHECK(strlen(plue_get_last_error()) < 1024);
    for (i = 0; i < 16; i++) { ids[i] = plue_event_subscribe(on_event, NULL); CHECK(ids[i] > 0); }
    plue__event_push("{\"_tag\":\"Created\"}");
    for (i = 0; i < 16; i++) CHECK(plue_event_unsubscribe(ids[i]) == PLUE_OK);
    CHECK(plue_event_unsubscribe(ids[0]) == PLUE_ERR_INVALID_ARGUMENT);
    for (i = 0; i < 4; i++) pthread_create(&threads[i], NULL, thread_main, NULL);
    for (i = 0; i < 4; i++) pthread_join(threads[i], NULL);
    CHECK(plue__unbind() == 0);
    CHECK(plue__live_strings() == 0);
    printf("%d failure(s)\n", failures);
    return failures;
}
